//! A FIFO of waiting tasks with O(1) removal from the middle, for building blocking primitives.
//!
//! Invariants:
//! - Entries live in a slab; a waiting entry is linked into the FIFO, a notified one is not (it
//!   waits for its task to collect the payload and free it), a free one is on the free list.
//! - Keys carry a generation, so a future holding the key of an entry that was freed and reused
//!   sees `None` instead of somebody else's entry.
//! - The list never calls user code and never touches the scheduler: callers wake the tasks
//!   that `notify_front` returns.

use crate::runtime::seam::TaskRef;
use crate::slab::PagedVec;

const NONE: u32 = u32::MAX;

/// Identifies an entry of a [`WaitList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitKey {
    index: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryState {
    Waiting,
    Notified,
}

#[derive(Debug)]
struct Entry<T> {
    generation: u32,
    state: Option<EntryState>,
    task: TaskRef,
    payload: Option<T>,
    prev: u32,
    next: u32,
}

/// A FIFO of waiting tasks, each with an optional payload (a value being handed over).
#[derive(Debug)]
pub(crate) struct WaitList<T> {
    entries: PagedVec<Entry<T>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    waiting: usize,
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        WaitList {
            entries: PagedVec::default(),
            free: Vec::new(),
            head: NONE,
            tail: NONE,
            waiting: 0,
        }
    }
}

impl<T> WaitList<T> {
    /// Number of waiting (not yet notified) entries.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Appends a waiting entry for `task`.
    pub(crate) fn push_back(&mut self, task: TaskRef, payload: Option<T>) -> WaitKey {
        let entry = Entry {
            generation: 0,
            state: Some(EntryState::Waiting),
            task,
            payload,
            prev: self.tail,
            next: NONE,
        };
        let index = match self.free.pop() {
            Some(i) => {
                let generation = self.entries[i].generation;
                self.entries[i] = Entry {
                    generation,
                    ..entry
                };
                i
            }
            None => self.entries.push(entry),
        };
        if self.tail != NONE {
            self.entries[self.tail].next = index;
        } else {
            self.head = index;
        }
        self.tail = index;
        self.waiting += 1;
        WaitKey {
            index,
            generation: self.entries[index].generation,
        }
    }

    fn entry(&self, key: WaitKey) -> Option<&Entry<T>> {
        self.entries
            .get(key.index)
            .filter(|e| e.generation == key.generation && e.state.is_some())
    }

    /// The state of the entry, or `None` if it was freed.
    pub(crate) fn state(&self, key: WaitKey) -> Option<EntryState> {
        self.entry(key).and_then(|e| e.state)
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next) = {
            let e = &self.entries[index];
            (e.prev, e.next)
        };
        if prev != NONE {
            self.entries[prev].next = next;
        } else {
            self.head = next;
        }
        if next != NONE {
            self.entries[next].prev = prev;
        } else {
            self.tail = prev;
        }
        let e = &mut self.entries[index];
        e.prev = NONE;
        e.next = NONE;
        self.waiting -= 1;
    }

    /// The first waiting entry's key, task and payload, without notifying it.
    pub(crate) fn front(&mut self) -> Option<(WaitKey, TaskRef, &mut Option<T>)> {
        if self.head == NONE {
            return None;
        }
        let index = self.head;
        let e = &mut self.entries[index];
        Some((
            WaitKey {
                index,
                generation: e.generation,
            },
            e.task,
            &mut e.payload,
        ))
    }

    /// Notifies the first waiting entry: takes it off the FIFO (its task collects it) and
    /// returns its task, after letting `f` exchange the payload.
    pub(crate) fn notify_front(&mut self, f: impl FnOnce(&mut Option<T>)) -> Option<TaskRef> {
        if self.head == NONE {
            return None;
        }
        let index = self.head;
        self.unlink(index);
        let e = &mut self.entries[index];
        e.state = Some(EntryState::Notified);
        f(&mut e.payload);
        Some(e.task)
    }

    /// Notifies a specific waiting entry (see [`notify_front`](Self::notify_front)).
    pub(crate) fn notify(&mut self, key: WaitKey) -> Option<TaskRef> {
        if self.state(key) != Some(EntryState::Waiting) {
            return None;
        }
        self.unlink(key.index);
        let e = &mut self.entries[key.index];
        e.state = Some(EntryState::Notified);
        Some(e.task)
    }

    /// Frees the entry (its task is done with it), returning its payload. A waiting entry is
    /// taken off the FIFO.
    pub(crate) fn remove(&mut self, key: WaitKey) -> Option<T> {
        let state = self.state(key)?;
        if state == EntryState::Waiting {
            self.unlink(key.index);
        }
        let e = &mut self.entries[key.index];
        e.state = None;
        e.generation = e.generation.wrapping_add(1);
        let payload = e.payload.take();
        self.free.push(key.index);
        payload
    }

    /// The waiting entries, longest waiter first: key, task and payload (to pick out entries
    /// to [`notify`](Self::notify) by their payload).
    pub(crate) fn iter_waiting(&self) -> impl Iterator<Item = (WaitKey, TaskRef, &Option<T>)> + '_ {
        let mut index = self.head;
        std::iter::from_fn(move || {
            if index == NONE {
                return None;
            }
            let e = &self.entries[index];
            let key = WaitKey {
                index,
                generation: e.generation,
            };
            index = e.next;
            Some((key, e.task, &e.payload))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u32) -> TaskRef {
        TaskRef::fake(i)
    }

    #[test]
    fn fifo_with_removal_from_the_middle() {
        let mut l: WaitList<u32> = WaitList::default();
        let a = l.push_back(t(1), None);
        let b = l.push_back(t(2), Some(20));
        let c = l.push_back(t(3), None);
        assert_eq!(l.len(), 3);
        assert_eq!(l.remove(b), Some(20));
        assert_eq!(l.len(), 2);
        assert_eq!(l.notify_front(|p| *p = Some(10)), Some(t(1)));
        assert_eq!(l.state(a), Some(EntryState::Notified));
        assert_eq!(l.remove(a), Some(10));
        assert_eq!(l.state(a), None);
        let d = l.push_back(t(4), None);
        assert_eq!(d.index, a.index, "the most recently freed slot is reused");
        assert_eq!(l.notify_front(|_| {}), Some(t(3)));
        assert_eq!(l.notify_front(|_| {}), Some(t(4)));
        assert_eq!(l.notify_front(|_| {}), None);
        assert!(l.is_empty());
        assert_eq!(l.remove(c), None);
        assert_eq!(l.remove(c), None);
    }

    #[test]
    fn iter_waiting_lists_only_waiting_entries_in_order() {
        let mut l: WaitList<u32> = WaitList::default();
        l.push_back(t(1), Some(1));
        let b = l.push_back(t(2), Some(2));
        let c = l.push_back(t(3), Some(3));
        let d = l.push_back(t(4), None);
        l.notify_front(|_| {});
        l.remove(b);
        let seen: Vec<_> = l.iter_waiting().map(|(k, t, p)| (k, t, *p)).collect();
        assert_eq!(seen, [(c, t(3), Some(3)), (d, t(4), None)]);
        assert_eq!(l.notify(c), Some(t(3)));
        assert_eq!(l.iter_waiting().count(), 1);
    }

    #[test]
    fn stale_keys_are_ignored() {
        let mut l: WaitList<()> = WaitList::default();
        let a = l.push_back(t(1), None);
        l.remove(a);
        let b = l.push_back(t(2), None);
        assert_eq!(a.index, b.index);
        assert_eq!(l.state(a), None);
        assert_eq!(l.notify(a), None);
        assert_eq!(l.state(b), Some(EntryState::Waiting));
    }
}
