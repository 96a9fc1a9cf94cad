//! The I/O driver: the `mio::Poll` of a runtime and the readiness of registered sources.
//!
//! Invariants:
//! - Each registered source has a slot; its `mio::Token` is the slot index. Slots carry a
//!   generation so that an event for a deregistered (and reused) slot is ignored.
//! - mio is edge-triggered: a slot remembers readiness (`readable`/`writable`) until an
//!   operation reports `WouldBlock` and clears it. At most one waiter per direction: a
//!   scoro task, or the `Waker` of a foreign future polling the source through
//!   `compat::poll_io`. A second task is an error (`ResourceBusy`), as in Trio; a waker
//!   never displaces a task (also `ResourceBusy`), and replaces an earlier waker; a task
//!   replaces a waker, which is handed back to be woken (it was left behind by a future that
//!   was dropped, or it retries and finds the task there).
//! - Events wake tasks through the scheduler and hand wakers back to the caller; no user code
//!   (a `Waker` is user code) runs while the driver is borrowed.
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
use std::task::Waker;
use std::time::Duration;

/// A direction of readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Who waits for readiness in one direction of a source.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// A scoro task parked in an I/O operation.
    Task(TaskRef),
    /// A foreign future's waker (see `compat::poll_io`).
    Waker(Waker),
}

impl Waiter {
    /// Is this the task `t`?
    fn is_task(&self, t: TaskRef) -> bool {
        matches!(self, Waiter::Task(u) if *u == t)
    }
}

/// Moves `waiter` (if any) to the list of tasks or of wakers to wake.
#[inline]
fn take_into(waiter: &mut Option<Waiter>, woken: &mut Vec<TaskRef>, wakers: &mut Vec<Waker>) {
    match waiter.take() {
        Some(Waiter::Task(t)) => woken.push(t),
        Some(Waiter::Waker(w)) => wakers.push(w),
        None => {}
    }
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
    reader: Option<Waiter>,
    writer: Option<Waiter>,
}

impl Slot {
    fn waiter(&mut self, dir: Direction) -> &mut Option<Waiter> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
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
    ) -> Vec<Waiter> {
        let _ = self.poll.registry().deregister(source);
        self.release_key(key)
    }

    /// Frees the slot of a source that is already closed (dropped away from its runtime's
    /// thread); the descriptor left the poller when it was closed.
    pub(crate) fn release_key(&mut self, key: IoKey) -> Vec<Waiter> {
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

    /// Makes `task` the waiter of `key` in direction `dir`. Fails if another task waits there;
    /// returns the waker it displaces, for the caller to wake once the driver is free.
    pub(crate) fn set_waiter(
        &mut self,
        key: IoKey,
        dir: Direction,
        task: TaskRef,
    ) -> io::Result<Option<Waker>> {
        let w = self.slot_mut(key).ok_or_else(closed)?.waiter(dir);
        match w {
            Some(Waiter::Task(existing)) if *existing != task => Err(busy()),
            _ => match w.replace(Waiter::Task(task)) {
                Some(Waiter::Waker(displaced)) => Ok(Some(displaced)),
                _ => Ok(None),
            },
        }
    }

    /// Makes `waker` the waiter of `key` in direction `dir`, replacing an earlier waker (which
    /// is returned, for the caller to drop once the driver is free). Fails if a task waits
    /// there (a task's place is never taken) or the source is gone.
    pub(crate) fn set_waker(
        &mut self,
        key: IoKey,
        dir: Direction,
        waker: &Waker,
    ) -> io::Result<Option<Waker>> {
        let w = self.slot_mut(key).ok_or_else(closed)?.waiter(dir);
        match w {
            Some(Waiter::Task(_)) => Err(busy()),
            Some(Waiter::Waker(old)) if old.will_wake(waker) => Ok(None),
            _ => match w.replace(Waiter::Waker(waker.clone())) {
                Some(Waiter::Waker(old)) => Ok(Some(old)),
                _ => Ok(None),
            },
        }
    }

    /// Removes `task` as the waiter of `key` in direction `dir` (if it still is).
    pub(crate) fn clear_waiter(&mut self, key: IoKey, dir: Direction, task: TaskRef) {
        if let Some(s) = self.slot_mut(key) {
            let w = s.waiter(dir);
            if w.as_ref().is_some_and(|w| w.is_task(task)) {
                *w = None;
            }
        }
    }

    /// Removes the waker waiting on `key` in direction `dir`, if a waker waits there, and
    /// returns it (for the caller to drop once the driver is free: dropping a waker runs
    /// user code).
    pub(crate) fn take_waker(&mut self, key: IoKey, dir: Direction) -> Option<Waker> {
        let w = self.slot_mut(key)?.waiter(dir);
        match w.take() {
            Some(Waiter::Waker(waker)) => Some(waker),
            other => {
                *w = other;
                None
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
                Direction::Read => s.readable = false,
                Direction::Write => s.writable = false,
            }
            *s.waiter(dir) = Some(Waiter::Task(task));
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
            // Raw descriptors have task waiters only: nothing is displaced.
            let _ = self.set_waiter(w.key, dir, task);
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

    /// Does anyone (a task or a waker) wait for readiness of a registered source? (Looked at
    /// only when the run
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
    /// wake to `woken` (the scheduler wakes them) and the wakers to `wakers` (the caller wakes
    /// them once the driver is no longer borrowed). Returns true when signals may have arrived
    /// (the signal pipe fired or the wait was interrupted); the caller dispatches them once the
    /// driver is no longer borrowed.
    pub(crate) fn poll(
        &mut self,
        timeout: Option<Duration>,
        woken: &mut Vec<TaskRef>,
        wakers: &mut Vec<Waker>,
    ) -> bool {
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
                take_into(&mut slot.reader, woken, wakers);
            }
            if slot.writable || slot.closed {
                take_into(&mut slot.writer, woken, wakers);
            }
        }
        signals
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the I/O source was closed")
}

fn busy() -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        "another task is already waiting on this I/O source in the same direction",
    )
}

#[cfg(test)]
mod tests {
    //! Run under miri too, which is why the ends are a pipe (miri's socket pairs cannot be
    //! written with `send`) and wakers are told apart by waking them, not by `will_wake`
    //! (which compares vtable pointers, and miri may give one type several vtables).
    use super::*;
    use mio::unix::pipe;
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    /// Is `waker` one of `count`'s? (Wakes it once to find out.)
    fn is_of(waker: &Waker, count: &Count) -> bool {
        let before = count.0.load(Ordering::SeqCst);
        waker.wake_by_ref();
        count.0.load(Ordering::SeqCst) == before + 1
    }

    /// A driver with the reading end of a pipe registered, and the writing end.
    fn setup() -> (IoDriver, IoKey, pipe::Receiver, pipe::Sender) {
        let mut driver = IoDriver::new().unwrap();
        let (tx, mut rx) = pipe::new().unwrap();
        let key = driver.register(&mut rx).unwrap();
        (driver, key, rx, tx)
    }

    /// Polls until an event hands back a waiter (at most ~5 s, never in a passing run).
    fn poll_until_woken(driver: &mut IoDriver) -> (Vec<TaskRef>, Vec<Waker>) {
        let (mut woken, mut wakers) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            driver.poll(Some(Duration::from_millis(100)), &mut woken, &mut wakers);
            if !woken.is_empty() || !wakers.is_empty() {
                break;
            }
        }
        (woken, wakers)
    }

    #[test]
    fn a_waiter_slot_stays_small() {
        // The slot is touched on every event: a waker waiter must not make it much bigger.
        assert!(size_of::<Option<Waiter>>() <= 24);
    }

    #[test]
    fn readiness_hands_the_waker_back_to_be_woken() {
        let (mut driver, key, _rx, mut tx) = setup();
        let (count, waker) = counting();
        driver.clear_ready(key, Direction::Read);
        let displaced = driver.set_waker(key, Direction::Read, &waker).unwrap();
        assert!(displaced.is_none());
        assert!(driver.has_waiters());
        tx.write_all(b"x").unwrap();
        let (woken, wakers) = poll_until_woken(&mut driver);
        assert!(woken.is_empty(), "no task waited");
        assert_eq!(wakers.len(), 1);
        // The driver only hands it back; the caller wakes it with the driver free.
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert!(is_of(&wakers[0], &count));
        assert!(driver.is_ready(key, Direction::Read));
        assert!(!driver.has_waiters(), "a waiter is woken once");
    }

    #[test]
    fn task_waiters_still_go_to_the_scheduler() {
        let (mut driver, key, _rx, mut tx) = setup();
        let t = TaskRef::fake(3);
        driver.clear_ready(key, Direction::Read);
        let displaced = driver.set_waiter(key, Direction::Read, t).unwrap();
        assert!(displaced.is_none());
        tx.write_all(b"x").unwrap();
        let (woken, wakers) = poll_until_woken(&mut driver);
        assert_eq!(woken, vec![t]);
        assert!(wakers.is_empty());
    }

    #[test]
    fn a_new_waker_replaces_the_old_one_and_hands_it_back() {
        let (mut driver, key, _rx, _tx) = setup();
        let (first_count, first) = counting();
        let (second_count, second) = counting();
        let displaced = driver.set_waker(key, Direction::Read, &first).unwrap();
        assert!(displaced.is_none());
        // The same waker again: kept (or, where `will_wake` cannot tell, replaced by itself).
        if let Some(old) = driver.set_waker(key, Direction::Read, &first).unwrap() {
            assert!(is_of(&old, &first_count));
        }
        let old = driver.set_waker(key, Direction::Read, &second).unwrap();
        assert!(old.is_some_and(|w| is_of(&w, &first_count)));
        let taken = driver.take_waker(key, Direction::Read);
        assert!(taken.is_some_and(|w| is_of(&w, &second_count)));
        assert!(!driver.has_waiters());
    }

    #[test]
    fn a_waker_never_takes_a_tasks_place_but_a_task_takes_a_wakers() {
        let (mut driver, key, _rx, _tx) = setup();
        let t = TaskRef::fake(1);
        let (count, waker) = counting();
        driver.set_waiter(key, Direction::Write, t).unwrap();
        let err = driver.set_waker(key, Direction::Write, &waker).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
        assert!(
            driver.take_waker(key, Direction::Write).is_none(),
            "the task stays"
        );
        driver.clear_waiter(key, Direction::Write, t);
        assert!(!driver.has_waiters());

        driver.set_waker(key, Direction::Write, &waker).unwrap();
        // `clear_waiter` of a task leaves a waker alone.
        driver.clear_waiter(key, Direction::Write, t);
        assert!(driver.has_waiters());
        let displaced = driver.set_waiter(key, Direction::Write, t).unwrap();
        assert!(displaced.is_some_and(|w| is_of(&w, &count)));
        let other = TaskRef::fake(2);
        let err = driver.set_waiter(key, Direction::Write, other).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
    }

    #[test]
    fn deregistering_hands_back_every_waiter() {
        let (mut driver, key, mut rx, _tx) = setup();
        let t = TaskRef::fake(5);
        let (count, waker) = counting();
        driver.set_waker(key, Direction::Read, &waker).unwrap();
        driver.set_waiter(key, Direction::Write, t).unwrap();
        let waiters = driver.deregister(key, &mut rx);
        assert_eq!(waiters.len(), 2);
        assert!(matches!(&waiters[0], Waiter::Waker(w) if is_of(w, &count)));
        assert!(waiters[1].is_task(t));
        // A closed source takes no waiter.
        let err = driver.set_waker(key, Direction::Read, &waker).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        assert!(driver.take_waker(key, Direction::Read).is_none());
    }
}
