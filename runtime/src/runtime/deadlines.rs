//! The timer heap of cancel-scope deadlines (the shape of Trio's `Deadlines`): add, next,
//! expire.
//!
//! Invariants:
//! - An entry `(deadline, node, generation)` is live exactly while that node is live and its
//!   `registered` field equals the entry's deadline; every other entry is stale. Stale entries
//!   are skipped when they reach the top, and pruned all at once when a large heap is mostly
//!   stale, so moving a deadline or leaving a scope never searches the heap.
//! - `live` counts the nodes whose `registered` is set (each has exactly one live entry).
//! - Only nodes with a task blocked under them are added (lazy registration, DESIGN.md
//!   decision 6); this module does not decide when, the scheduler does.

use crate::runtime::status::StatusTree;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    live: usize,
}

impl Deadlines {
    /// Registers `deadline` for node `index`, unless it is registered already or is no longer
    /// the node's own deadline.
    pub(crate) fn add(&mut self, statuses: &mut StatusTree, index: u32, deadline: Instant) {
        let n = statuses.node_mut(index);
        if n.registered == Some(deadline) || n.deadline != Some(deadline) {
            return;
        }
        if n.registered.is_none() {
            self.live += 1;
        }
        n.registered = Some(deadline);
        let generation = n.generation;
        self.heap.push(Reverse((deadline, index, generation)));
        if self.heap.len() > 1024 && self.heap.len() > 4 * self.live {
            self.prune(statuses);
        }
    }

    /// How many live deadlines are registered.
    pub(crate) fn armed(&self) -> usize {
        self.live
    }

    /// A node with a registered deadline is being freed: its entry is stale from now on.
    pub(crate) fn node_freed(&mut self) {
        self.live -= 1;
    }

    /// The earliest live deadline.
    pub(crate) fn next(&mut self, statuses: &StatusTree) -> Option<Instant> {
        while let Some(&Reverse((d, index, generation))) = self.heap.peek() {
            if is_live_entry(statuses, d, index, generation) {
                return Some(d);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the next live entry that is due at `now` and unregisters it; returns its node if
    /// its deadline should fire (it is still the node's deadline and the node was not
    /// cancelled already). `None` once nothing more is due.
    pub(crate) fn pop_due(
        &mut self,
        statuses: &mut StatusTree,
        now: Instant,
    ) -> Option<Option<u32>> {
        loop {
            let &Reverse((d, index, generation)) = self.heap.peek()?;
            if d > now {
                return None;
            }
            self.heap.pop();
            if !is_live_entry(statuses, d, index, generation) {
                continue;
            }
            let n = statuses.node_mut(index);
            n.registered = None;
            self.live -= 1;
            let fire = n.deadline == Some(d) && !n.cancel_called;
            return Some(fire.then_some(index));
        }
    }

    fn prune(&mut self, statuses: &StatusTree) {
        self.heap.retain(|&Reverse((d, index, generation))| {
            is_live_entry(statuses, d, index, generation)
        });
    }
}

fn is_live_entry(statuses: &StatusTree, d: Instant, index: u32, generation: u32) -> bool {
    statuses.is_live(statuses.id(index, generation)) && statuses.node(index).registered == Some(d)
}
