//! The state both ends of a channel share, and the moves of values between the buffer and
//! the wait lists (see the invariants in the [module docs](super)).

use crate::wait::{WaitKey, WaitList};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// The state both ends of a channel share.
pub(super) struct Chan<T> {
    pub(super) capacity: usize,
    pub(super) buffer: RefCell<VecDeque<T>>,
    /// Open sender handles.
    pub(super) senders: Cell<usize>,
    /// Open receiver handles.
    pub(super) receivers: Cell<usize>,
    /// Blocked senders; a waiting entry holds the value being sent. A notified entry whose
    /// value is gone was delivered; one that kept it was woken because its handle or every
    /// receiver closed.
    pub(super) send_waiters: RefCell<WaitList<Waiter<T>>>,
    /// Waiting receivers; a notified entry holds the value handed over, or nothing if it was
    /// woken because its handle or every sender closed.
    pub(super) recv_waiters: RefCell<WaitList<Waiter<T>>>,
    /// The id of the next handle made (ids tell whose wait entries a `close` ends).
    pub(super) next_handle: Cell<u64>,
}

/// The payload of a wait entry: the handle the call waits on, and the value it sends or was
/// handed.
pub(super) struct Waiter<T> {
    pub(super) handle: u64,
    pub(super) value: Option<T>,
}

/// The value slot of a wait entry's payload (every entry of a channel has a payload).
pub(super) fn value_of<T>(payload: &mut Option<Waiter<T>>) -> &mut Option<T> {
    &mut payload
        .as_mut()
        .expect("channel wait entries carry a payload")
        .value
}

impl<T> Chan<T> {
    pub(super) fn new_handle_id(&self) -> u64 {
        let id = self.next_handle.get();
        self.next_handle.set(id + 1);
        id
    }

    /// Hands `value` to the longest waiting receiver, or buffers it; gives it back when the
    /// buffer is full.
    pub(super) fn offer(&self, value: T) -> Result<(), T> {
        let value = match self.hand_to_waiting_receiver(value) {
            Ok(()) => return Ok(()),
            Err(value) => value,
        };
        let mut buffer = self.buffer.borrow_mut();
        if buffer.len() < self.capacity {
            buffer.push_back(value);
            Ok(())
        } else {
            Err(value)
        }
    }

    /// Takes the next value: completes the send of the longest-blocked sender by moving its
    /// value to the back of the buffer, then pops the front.
    pub(super) fn take(&self) -> Option<T> {
        let mut buffer = self.buffer.borrow_mut();
        let sender = self.send_waiters.borrow_mut().notify_front(|payload| {
            if let Some(v) = value_of(payload).take() {
                buffer.push_back(v);
            }
        });
        if let Some(t) = sender {
            t.unpark();
        }
        buffer.pop_front()
    }

    /// Puts back a value that a receive took but could not return (its call was dropped): to
    /// the receiver waiting now, or to the front of the buffer. Dropped if no receiver is open.
    pub(super) fn put_back(&self, value: T) {
        if self.receivers.get() == 0 {
            drop(value);
            return;
        }
        if let Err(value) = self.hand_to_waiting_receiver(value) {
            self.buffer.borrow_mut().push_front(value);
        }
    }

    fn hand_to_waiting_receiver(&self, value: T) -> Result<(), T> {
        let mut receivers = self.recv_waiters.borrow_mut();
        match receivers.front() {
            Some((key, task, payload)) => {
                *value_of(payload) = Some(value);
                receivers.notify(key);
                task.unpark();
                Ok(())
            }
            None => Err(value),
        }
    }
}

/// Notifies the waiting entries of `list` that wait on `handle` (leaving their values where
/// they are): they leave the queue at once, and their tasks see that the handle is closed.
pub(super) fn notify_handle<T>(list: &RefCell<WaitList<Waiter<T>>>, handle: u64) {
    let mut list = list.borrow_mut();
    let keys: Vec<WaitKey> = list
        .iter_waiting()
        .filter(|(_, _, payload)| payload.as_ref().is_some_and(|w| w.handle == handle))
        .map(|(key, _, _)| key)
        .collect();
    for key in keys {
        if let Some(t) = list.notify(key) {
            t.unpark();
        }
    }
}

/// Notifies every waiting entry of `list`, leaving their values where they are.
pub(super) fn notify_all<T>(list: &RefCell<WaitList<T>>) {
    loop {
        let task = list.borrow_mut().notify_front(|_| {});
        match task {
            Some(t) => t.unpark(),
            None => break,
        }
    }
}
