//! The I/O driver: the `mio::Poll` of a runtime and the readiness of registered sources.
//!
//! Invariants:
//! - Each registered source has a slot; its `mio::Token` is the slot index. Slots carry a
//!   generation so that an event for a deregistered (and reused) slot is ignored.
//! - mio is edge-triggered: a slot remembers readiness (`readable`/`writable`) until an
//!   operation reports `WouldBlock` and clears it. At most one task waits per direction;
//!   a second waiter is an error (`ResourceBusy`), as in Trio.
//! - Events wake tasks through the scheduler; no user code runs while the driver is borrowed.
//! - Raw descriptors waited on with `lowlevel::wait_readable`/`wait_writable` are registered
//!   only while someone waits on them (`fd_waits` maps each to its slot and the directions in
//!   use), with exactly the interest of those directions. Registering (or changing the
//!   interest of) a descriptor that is already ready reports it at once, so a wait never
//!   misses readiness that arrived before it started, edge-triggered or not.

use super::ids::TaskRef;
use super::shared::WAKER_TOKEN;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// A direction of readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    live: bool,
    readable: bool,
    writable: bool,
    /// Error or hang-up seen: both directions count as ready so that the next operation
    /// reports it.
    closed: bool,
    reader: Option<TaskRef>,
    writer: Option<TaskRef>,
}

/// Identifies a registered source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

pub(crate) struct IoDriver {
    poll: mio::Poll,
    events: mio::Events,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Events seen by `poll` (for `observe::metrics`).
    pub(crate) events_seen: u64,
    fd_waits: HashMap<RawFd, FdWait>,
}

/// A raw descriptor registered for `wait_readable`/`wait_writable`.
#[derive(Clone, Copy, Debug)]
struct FdWait {
    key: IoKey,
    read: bool,
    write: bool,
}

impl FdWait {
    fn interest(&self) -> Option<mio::Interest> {
        match (self.read, self.write) {
            (true, true) => Some(mio::Interest::READABLE | mio::Interest::WRITABLE),
            (true, false) => Some(mio::Interest::READABLE),
            (false, true) => Some(mio::Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

impl IoDriver {
    pub(crate) fn new() -> io::Result<IoDriver> {
        Ok(IoDriver {
            poll: mio::Poll::new()?,
            events: mio::Events::with_capacity(1024),
            slots: Vec::new(),
            free: Vec::new(),
            events_seen: 0,
            fd_waits: HashMap::new(),
        })
    }

    pub(crate) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    /// Registers `source` for both directions.
    pub(crate) fn register(&mut self, source: &mut impl mio::event::Source) -> io::Result<IoKey> {
        let index = self.alloc_slot()?;
        let generation = self.slots[index as usize].generation;
        if let Err(e) = self.poll.registry().register(
            source,
            mio::Token(index as usize),
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        ) {
            self.release(index);
            return Err(e);
        }
        Ok(IoKey { index, generation })
    }

    /// Deregisters `source`; waiters are woken (they will find the source gone).
    pub(crate) fn deregister(
        &mut self,
        key: IoKey,
        source: &mut impl mio::event::Source,
    ) -> Vec<TaskRef> {
        let _ = self.poll.registry().deregister(source);
        let mut woken = Vec::new();
        if let Some(slot) = self.slot_mut(key) {
            woken.extend(slot.reader.take());
            woken.extend(slot.writer.take());
            self.release(key.index);
        }
        woken
    }

    /// Frees the slot of a source that is already closed (dropped away from its runtime's
    /// thread); the descriptor left the poller when it was closed.
    pub(crate) fn release_key(&mut self, key: IoKey) -> Vec<TaskRef> {
        let mut woken = Vec::new();
        if let Some(slot) = self.slot_mut(key) {
            woken.extend(slot.reader.take());
            woken.extend(slot.writer.take());
            self.release(key.index);
        }
        woken
    }

    /// Takes a free slot and marks it live.
    fn alloc_slot(&mut self) -> io::Result<u32> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| (i as usize) < super::signal::SIGNAL_TOKEN.0)
                    .ok_or_else(|| io::Error::other("too many I/O sources"))?;
                self.slots.push(Slot::default());
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        let generation = slot.generation;
        *slot = Slot {
            generation,
            live: true,
            ..Slot::default()
        };
        Ok(index)
    }

    fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.live = false;
        slot.generation = slot.generation.wrapping_add(1);
        slot.reader = None;
        slot.writer = None;
        self.free.push(index);
    }

    fn slot_mut(&mut self, key: IoKey) -> Option<&mut Slot> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|s| s.live && s.generation == key.generation)
    }

    /// Is `key` ready in direction `dir` (as far as the driver knows)?
    pub(crate) fn is_ready(&mut self, key: IoKey, dir: Direction) -> bool {
        match self.slot_mut(key) {
            Some(s) => {
                s.closed
                    || match dir {
                        Direction::Read => s.readable,
                        Direction::Write => s.writable,
                    }
            }
            None => true,
        }
    }

    /// Records that an operation in direction `dir` would block.
    pub(crate) fn clear_ready(&mut self, key: IoKey, dir: Direction) {
        if let Some(s) = self.slot_mut(key) {
            match dir {
                Direction::Read => s.readable = false,
                Direction::Write => s.writable = false,
            }
        }
    }

    /// Makes `task` the waiter of `key` in direction `dir`. Fails if another task waits there.
    pub(crate) fn set_waiter(
        &mut self,
        key: IoKey,
        dir: Direction,
        task: Option<TaskRef>,
    ) -> io::Result<()> {
        let Some(s) = self.slot_mut(key) else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the I/O source was closed",
            ));
        };
        let w = match dir {
            Direction::Read => &mut s.reader,
            Direction::Write => &mut s.writer,
        };
        match (&*w, task) {
            (Some(existing), Some(t)) if *existing != t => Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "another task is already waiting on this I/O source in the same direction",
            )),
            _ => {
                *w = task;
                Ok(())
            }
        }
    }

    /// Removes `task` as the waiter of `key` in direction `dir` (if it still is).
    pub(crate) fn clear_waiter(&mut self, key: IoKey, dir: Direction, task: TaskRef) {
        if let Some(s) = self.slot_mut(key) {
            let w = match dir {
                Direction::Read => &mut s.reader,
                Direction::Write => &mut s.writer,
            };
            if *w == Some(task) {
                *w = None;
            }
        }
    }

    /// Starts a wait of `task` for raw descriptor `fd` in direction `dir`: registers the
    /// descriptor (or adds the direction to its interest) and makes `task` the waiter.
    pub(crate) fn fd_wait_start(
        &mut self,
        fd: RawFd,
        dir: Direction,
        task: TaskRef,
    ) -> io::Result<IoKey> {
        let busy = || {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                "another task is already waiting on this file descriptor in the same direction",
            )
        };
        let entry = match self.fd_waits.get(&fd).copied() {
            Some(mut w) => {
                let taken = match dir {
                    Direction::Read => &mut w.read,
                    Direction::Write => &mut w.write,
                };
                if *taken {
                    return Err(busy());
                }
                *taken = true;
                let interest = w.interest().expect("a direction was just added");
                self.poll.registry().reregister(
                    &mut mio::unix::SourceFd(&fd),
                    mio::Token(w.key.index as usize),
                    interest,
                )?;
                w
            }
            None => {
                let index = self.alloc_slot()?;
                let key = IoKey {
                    index,
                    generation: self.slots[index as usize].generation,
                };
                let w = FdWait {
                    key,
                    read: dir == Direction::Read,
                    write: dir == Direction::Write,
                };
                let interest = w.interest().expect("one direction is set");
                if let Err(e) = self.poll.registry().register(
                    &mut mio::unix::SourceFd(&fd),
                    mio::Token(index as usize),
                    interest,
                ) {
                    self.release(index);
                    return Err(match e.kind() {
                        io::ErrorKind::AlreadyExists => io::Error::new(
                            io::ErrorKind::ResourceBusy,
                            "this file descriptor belongs to a scoro I/O object; use its methods",
                        ),
                        _ => e,
                    });
                }
                w
            }
        };
        self.fd_waits.insert(fd, entry);
        if let Some(s) = self.slot_mut(entry.key) {
            match dir {
                Direction::Read => {
                    s.readable = false;
                    s.reader = Some(task);
                }
                Direction::Write => {
                    s.writable = false;
                    s.writer = Some(task);
                }
            }
            s.closed = false;
        }
        Ok(entry.key)
    }

    /// Has the descriptor of a wait become ready in direction `dir`?
    pub(crate) fn fd_wait_ready(&mut self, fd: RawFd, dir: Direction) -> bool {
        match self.fd_waits.get(&fd).copied() {
            Some(w) => self.is_ready(w.key, dir),
            None => true,
        }
    }

    /// Makes `task` the waiter again after a wakeup that was not readiness.
    pub(crate) fn fd_wait_rearm(&mut self, fd: RawFd, dir: Direction, task: TaskRef) {
        if let Some(w) = self.fd_waits.get(&fd).copied() {
            let _ = self.set_waiter(w.key, dir, Some(task));
        }
    }

    /// Ends a wait started with [`fd_wait_start`](Self::fd_wait_start): drops the direction
    /// from the descriptor's interest, and the registration when no direction is left.
    pub(crate) fn fd_wait_end(&mut self, fd: RawFd, dir: Direction, task: TaskRef) {
        let Some(mut w) = self.fd_waits.get(&fd).copied() else {
            return;
        };
        self.clear_waiter(w.key, dir, task);
        match dir {
            Direction::Read => w.read = false,
            Direction::Write => w.write = false,
        }
        match w.interest() {
            Some(interest) => {
                self.fd_waits.insert(fd, w);
                // A failure means the descriptor was closed meanwhile; the other direction's
                // waiter then ends by cancellation, as with any descriptor closed under it.
                let _ = self.poll.registry().reregister(
                    &mut mio::unix::SourceFd(&fd),
                    mio::Token(w.key.index as usize),
                    interest,
                );
            }
            None => {
                self.fd_waits.remove(&fd);
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut mio::unix::SourceFd(&fd));
                if self.slot_mut(w.key).is_some() {
                    self.release(w.key.index);
                }
            }
        }
    }

    /// Does any task wait for readiness of a registered source? (Looked at only when the run
    /// seems unable to go on, so a scan is fine.)
    pub(crate) fn has_waiters(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.live && (s.reader.is_some() || s.writer.is_some()))
    }

    /// How many sources are registered.
    pub(crate) fn registered(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Waits for events for at most `timeout` (forever if `None`) and appends the tasks they
    /// wake to `woken` (the scheduler wakes them). Returns true when signals may have arrived
    /// (the signal pipe fired or the wait was interrupted); the caller dispatches them once the
    /// driver is no longer borrowed.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, woken: &mut Vec<TaskRef>) -> bool {
        let mut signals = false;
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => signals = true,
            Err(e) => panic!("scoro: waiting for I/O failed: {e}"),
        }
        for event in self.events.iter() {
            self.events_seen += 1;
            let token = event.token();
            if token == WAKER_TOKEN {
                continue;
            }
            if token == super::signal::SIGNAL_TOKEN {
                signals = true;
                continue;
            }
            let Some(slot) = self.slots.get_mut(token.0) else {
                continue;
            };
            if !slot.live {
                continue;
            }
            if event.is_readable() || event.is_read_closed() {
                slot.readable = true;
            }
            if event.is_writable() || event.is_write_closed() {
                slot.writable = true;
            }
            if event.is_error() {
                slot.closed = true;
            }
            if slot.readable || slot.closed {
                woken.extend(slot.reader.take());
            }
            if slot.writable || slot.closed {
                woken.extend(slot.writer.take());
            }
        }
        signals
    }
}
