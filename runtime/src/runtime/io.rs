//! The I/O driver: the `mio::Poll` of a runtime and the readiness of registered sources.
//!
//! Invariants:
//! - Each registered source has a slot; its `mio::Token` is the slot index. Slots carry a
//!   generation so that an event for a deregistered (and reused) slot is ignored.
//! - mio is edge-triggered: a slot remembers readiness (`readable`/`writable`) until an
//!   operation reports `WouldBlock` and clears it. At most one task waits per direction;
//!   a second waiter is an error (`ResourceBusy`), as in Trio.
//! - Events wake tasks through the scheduler; no user code runs while the driver is borrowed.
#![allow(dead_code, reason = "the registration API serves the networking types")]

use super::core::{Core, TaskRef};
use super::shared::WAKER_TOKEN;
use std::io;
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
    to_wake: Vec<TaskRef>,
}

impl IoDriver {
    pub(crate) fn new() -> io::Result<IoDriver> {
        Ok(IoDriver {
            poll: mio::Poll::new()?,
            events: mio::Events::with_capacity(1024),
            slots: Vec::new(),
            free: Vec::new(),
            to_wake: Vec::new(),
        })
    }

    pub(crate) fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    /// Registers `source` for both directions.
    pub(crate) fn register(&mut self, source: &mut impl mio::event::Source) -> io::Result<IoKey> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1)
                    .map_err(|_| io::Error::other("too many I/O sources"))?
            }
        };
        let slot = &mut self.slots[index as usize];
        let generation = slot.generation;
        *slot = Slot {
            generation,
            live: true,
            ..Slot::default()
        };
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

    /// Waits for events for at most `timeout` (forever if `None`) and wakes their tasks.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, core: &Core) {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => super::signal::check(core),
            Err(e) => panic!("scoro: waiting for I/O failed: {e}"),
        }
        let mut to_wake = std::mem::take(&mut self.to_wake);
        for event in self.events.iter() {
            let token = event.token();
            if token == WAKER_TOKEN {
                continue;
            }
            if token == super::signal::SIGNAL_TOKEN {
                super::signal::on_readable(core);
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
                to_wake.extend(slot.reader.take());
            }
            if slot.writable || slot.closed {
                to_wake.extend(slot.writer.take());
            }
        }
        for t in to_wake.drain(..) {
            core.wake(t);
        }
        self.to_wake = to_wake;
    }
}
