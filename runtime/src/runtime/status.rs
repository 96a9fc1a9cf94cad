//! The cancel status tree.
//!
//! Each entered cancel scope (and each nursery) owns one node; nodes nest like the scopes do,
//! and nursery children hang under their nursery's node. A node stores its scope's own state
//! (cancel called, shield, deadline) and the effective state derived from its ancestors:
//!
//! - `cancelled = cancel_called || (parent.cancelled && !shield)`;
//! - `reason` is the parent's reason when the parent's cancellation is visible (the outermost
//!   cancelled scope is the one that catches), else the node's own;
//! - `eff_deadline` is the earliest deadline of this node and, unless it is shielded, of its
//!   ancestors, together with the node that owns it.
//!
//! Invariants:
//! - Effective state is kept current eagerly: any change (cancel, shield, deadline, reparent)
//!   recomputes the affected subtree at once, iteratively (no recursion: thousands of nested
//!   scopes are fine), and reports every node that became cancelled so that the scheduler can
//!   wake the tasks blocked on it.
//! - Deadlines are *not* put in the timer heap here; the scheduler registers a node's
//!   effective deadline only when a task blocks under it (lazy registration).
//! - A node is freed only when its scope exits; by then it has no children left. Ids carry a
//!   generation, so a stale id (from a handle of a scope that has exited) is recognised.

use super::ids::NO_TASK;
pub(crate) use super::tree::ScopeKind;
use crate::cancellation::CancelReason;
use crate::slab::PagedVec;
use std::time::{Duration, Instant};

/// "No node" in the tree's index links (parents, children, siblings).
pub(crate) const NO_STATUS: u32 = u32::MAX;

/// A node of the status tree: the run it belongs to, slab index and generation. An id of
/// another run is never live in this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatusId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
    pub(crate) run: u32,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) generation: u32,
    live: bool,
    pub(crate) parent: u32,
    first_child: u32,
    next_sibling: u32,
    prev_sibling: u32,
    /// Head of the list of tasks blocked (cancellably) on this node (see `StatusTree::links`).
    blocked_head: u32,
    pub(crate) cancel_called: bool,
    pub(crate) own_reason: CancelReason,
    pub(crate) shield: bool,
    pub(crate) deadline: Option<Instant>,
    /// A relative deadline not converted to an instant yet (see `Core::resolve_pending`).
    /// Until then the node behaves as if it had no deadline, which is never early: it will be
    /// `now + timeout` for a `now` read later than the scope was entered.
    pub(crate) pending: Option<Duration>,
    /// The deadline of this node currently in the timer heap, if any.
    pub(crate) registered: Option<Instant>,
    pub(crate) cancelled: bool,
    pub(crate) reason: CancelReason,
    /// The earliest deadline that applies here (this node's or an unshielded ancestor's).
    pub(crate) eff_deadline: Option<Instant>,
    /// The node whose own deadline `eff_deadline` is (`NO_STATUS` without one).
    pub(crate) eff_deadline_node: u32,
    /// What made the node (for the task tree).
    pub(crate) kind: ScopeKind,
    /// The task that entered the node (`NO_TASK` for the root and a pending `start`'s node).
    pub(crate) task: u32,
}

/// Settings of a node being created.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeSettings {
    pub(crate) cancel_called: Option<CancelReason>,
    pub(crate) shield: bool,
    pub(crate) deadline: Option<Instant>,
    /// A relative deadline to resolve later (set by the scheduler, not by callers).
    pub(crate) pending: Option<Duration>,
    /// What makes the node (for the task tree).
    pub(crate) kind: ScopeKind,
}

/// Where a task is linked into the blocked lists: the node it is blocked on (`NO_STATUS` when
/// it is not blocked) and its neighbours in that node's list (task indices).
#[derive(Clone, Copy, Debug)]
struct BlockLink {
    on: u32,
    prev: u32,
    next: u32,
}

impl BlockLink {
    const UNLINKED: BlockLink = BlockLink {
        on: NO_STATUS,
        prev: NO_TASK,
        next: NO_TASK,
    };
}

#[derive(Debug, Default)]
pub(crate) struct StatusTree {
    /// The run this tree belongs to (see `runtime::core::new_run_id`); 0 in unit tests.
    pub(crate) run: u32,
    nodes: Vec<Node>,
    free: Vec<u32>,
    stack: Vec<u32>,
    /// The blocked lists' links, indexed by task slab index (grown as tasks appear).
    links: PagedVec<BlockLink>,
}

impl StatusTree {
    // ----- the tasks blocked on each node ------------------------------------------------

    fn link_mut(&mut self, task: u32) -> &mut BlockLink {
        while self.links.len() <= task as usize {
            self.links.push(BlockLink::UNLINKED);
        }
        &mut self.links[task]
    }

    /// Links `task` into the blocked list of node `status`, where cancelling the node finds
    /// it. Returns `false` (and does nothing) if the task is already blocked somewhere.
    pub(crate) fn block(&mut self, task: u32, status: u32) -> bool {
        if self.link_mut(task).on != NO_STATUS {
            return false;
        }
        let head = self.nodes[status as usize].blocked_head;
        *self.link_mut(task) = BlockLink {
            on: status,
            prev: NO_TASK,
            next: head,
        };
        if head != NO_TASK {
            self.links[head].prev = task;
        }
        self.nodes[status as usize].blocked_head = task;
        true
    }

    /// Takes `task` out of the blocked list it is in, if any.
    pub(crate) fn unblock(&mut self, task: u32) {
        let Some(&BlockLink { on, prev, next }) = self.links.get(task) else {
            return;
        };
        if on == NO_STATUS {
            return;
        }
        if prev != NO_TASK {
            self.links[prev].next = next;
        } else {
            self.nodes[on as usize].blocked_head = next;
        }
        if next != NO_TASK {
            self.links[next].prev = prev;
        }
        self.links[task] = BlockLink::UNLINKED;
    }

    /// Takes the first task off the blocked list of node `status`.
    pub(crate) fn pop_blocked(&mut self, status: u32) -> Option<u32> {
        let head = self.nodes[status as usize].blocked_head;
        if head == NO_TASK {
            return None;
        }
        self.unblock(head);
        Some(head)
    }

    /// Are tasks blocked on node `status`?
    pub(crate) fn has_blocked(&self, status: u32) -> bool {
        self.nodes[status as usize].blocked_head != NO_TASK
    }

    // ----- nodes -------------------------------------------------------------------------

    #[inline]
    pub(crate) fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    #[inline]
    pub(crate) fn node_mut(&mut self, index: u32) -> &mut Node {
        &mut self.nodes[index as usize]
    }

    /// The id of node `index` (live or not) as it is now.
    #[inline]
    pub(crate) fn id(&self, index: u32, generation: u32) -> StatusId {
        StatusId {
            index,
            generation,
            run: self.run,
        }
    }

    /// The live nodes, with their indices (for the task tree).
    pub(crate) fn live_nodes(&self) -> impl Iterator<Item = (u32, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.live)
            .map(|(i, n)| (i as u32, n))
    }

    /// Is `id` a live node of this tree?
    #[inline]
    pub(crate) fn is_live(&self, id: StatusId) -> bool {
        self.nodes
            .get(id.index as usize)
            .is_some_and(|n| n.live && n.generation == id.generation && id.run == self.run)
    }

    /// Creates a node under `parent` (or a root) with its effective state computed.
    pub(crate) fn create(&mut self, parent: u32, settings: NodeSettings) -> StatusId {
        self.create_for(parent, settings, NO_TASK)
    }

    /// [`create`](Self::create) for a node that `task` enters.
    #[inline]
    pub(crate) fn create_for(
        &mut self,
        parent: u32,
        settings: NodeSettings,
        task: u32,
    ) -> StatusId {
        let node = Node {
            generation: 0,
            live: true,
            parent,
            first_child: NO_STATUS,
            next_sibling: NO_STATUS,
            prev_sibling: NO_STATUS,
            blocked_head: NO_TASK,
            cancel_called: settings.cancel_called.is_some(),
            own_reason: settings.cancel_called.unwrap_or(CancelReason::Explicit),
            shield: settings.shield,
            deadline: settings.deadline,
            pending: settings.pending,
            registered: None,
            cancelled: false,
            reason: CancelReason::Explicit,
            eff_deadline: None,
            eff_deadline_node: NO_STATUS,
            kind: settings.kind,
            task,
        };
        let index = match self.free.pop() {
            Some(i) => {
                let generation = self.nodes[i as usize].generation;
                self.nodes[i as usize] = Node { generation, ..node };
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).expect("too many cancel scopes");
                self.nodes.push(node);
                i
            }
        };
        if parent != NO_STATUS {
            self.link_child(parent, index);
        }
        self.compute(index);
        StatusId {
            index,
            generation: self.nodes[index as usize].generation,
            run: self.run,
        }
    }

    fn link_child(&mut self, parent: u32, child: u32) {
        let old_first = self.nodes[parent as usize].first_child;
        {
            let c = &mut self.nodes[child as usize];
            c.parent = parent;
            c.prev_sibling = NO_STATUS;
            c.next_sibling = old_first;
        }
        if old_first != NO_STATUS {
            self.nodes[old_first as usize].prev_sibling = child;
        }
        self.nodes[parent as usize].first_child = child;
    }

    fn unlink_child(&mut self, child: u32) {
        let (parent, prev, next) = {
            let c = &self.nodes[child as usize];
            (c.parent, c.prev_sibling, c.next_sibling)
        };
        if prev != NO_STATUS {
            self.nodes[prev as usize].next_sibling = next;
        } else if parent != NO_STATUS {
            self.nodes[parent as usize].first_child = next;
        }
        if next != NO_STATUS {
            self.nodes[next as usize].prev_sibling = prev;
        }
        let c = &mut self.nodes[child as usize];
        c.parent = NO_STATUS;
        c.prev_sibling = NO_STATUS;
        c.next_sibling = NO_STATUS;
    }

    /// Frees a node whose scope has exited. Any children it still has (which only happens when
    /// a scope is torn down out of order during a panic) are moved to its parent.
    pub(crate) fn free(&mut self, index: u32) {
        let parent = self.nodes[index as usize].parent;
        while self.nodes[index as usize].first_child != NO_STATUS {
            let child = self.nodes[index as usize].first_child;
            self.unlink_child(child);
            if parent != NO_STATUS {
                self.link_child(parent, child);
            }
            self.nodes[child as usize].parent = parent;
        }
        self.unlink_child(index);
        let n = &mut self.nodes[index as usize];
        n.live = false;
        n.generation = n.generation.wrapping_add(1);
        n.deadline = None;
        n.pending = None;
        n.registered = None;
        self.free.push(index);
    }

    /// Recomputes the effective state of `index` from its parent. Returns whether it changed,
    /// and whether it went from not cancelled to cancelled.
    fn compute(&mut self, index: u32) -> (bool, bool) {
        let parent = self.nodes[index as usize].parent;
        let (p_cancelled, p_reason, p_deadline, p_owner) = if parent == NO_STATUS {
            (false, CancelReason::Explicit, None, NO_STATUS)
        } else {
            let p = &self.nodes[parent as usize];
            (p.cancelled, p.reason, p.eff_deadline, p.eff_deadline_node)
        };
        let n = &mut self.nodes[index as usize];
        let visible = p_cancelled && !n.shield;
        let cancelled = n.cancel_called || visible;
        let reason = if visible { p_reason } else { n.own_reason };
        let inherited = if n.shield {
            None
        } else {
            p_deadline.map(|d| (d, p_owner))
        };
        let (eff_deadline, eff_deadline_node) = match (n.deadline, inherited) {
            (Some(d), Some((pd, po))) if pd < d => (Some(pd), po),
            (Some(d), _) => (Some(d), index),
            (None, Some((pd, po))) => (Some(pd), po),
            (None, None) => (None, NO_STATUS),
        };
        let became_cancelled = cancelled && !n.cancelled;
        let changed = cancelled != n.cancelled
            || reason != n.reason
            || eff_deadline != n.eff_deadline
            || eff_deadline_node != n.eff_deadline_node;
        n.cancelled = cancelled;
        n.reason = reason;
        n.eff_deadline = eff_deadline;
        n.eff_deadline_node = eff_deadline_node;
        (changed, became_cancelled)
    }

    /// Recomputes `index` and, where something changed, its descendants. Pushes every node
    /// that became cancelled onto `newly_cancelled`.
    pub(crate) fn recompute(&mut self, index: u32, newly_cancelled: &mut Vec<u32>) {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        stack.push(index);
        while let Some(i) = stack.pop() {
            let (changed, became) = self.compute(i);
            if became {
                newly_cancelled.push(i);
            }
            if changed || i == index {
                let mut c = self.nodes[i as usize].first_child;
                while c != NO_STATUS {
                    stack.push(c);
                    c = self.nodes[c as usize].next_sibling;
                }
            }
        }
        self.stack = stack;
    }

    /// Appends `index` and every node below it to `out`.
    pub(crate) fn subtree(&self, index: u32, out: &mut Vec<u32>) {
        let mut i = out.len();
        out.push(index);
        while i < out.len() {
            let mut c = self.nodes[out[i] as usize].first_child;
            while c != NO_STATUS {
                out.push(c);
                c = self.nodes[c as usize].next_sibling;
            }
            i += 1;
        }
    }

    /// Cancels the scope of `index` (idempotent).
    pub(crate) fn cancel(&mut self, index: u32, reason: CancelReason, newly: &mut Vec<u32>) {
        let n = &mut self.nodes[index as usize];
        if n.cancel_called {
            return;
        }
        n.cancel_called = true;
        n.own_reason = reason;
        self.recompute(index, newly);
    }

    /// Changes the shield of `index`.
    pub(crate) fn set_shield(&mut self, index: u32, shield: bool, newly: &mut Vec<u32>) {
        self.nodes[index as usize].shield = shield;
        self.recompute(index, newly);
    }

    /// Changes the deadline of `index`.
    pub(crate) fn set_deadline(
        &mut self,
        index: u32,
        deadline: Option<Instant>,
        newly: &mut Vec<u32>,
    ) {
        let n = &mut self.nodes[index as usize];
        n.deadline = deadline;
        n.pending = None;
        self.recompute(index, newly);
    }

    /// Moves `index` (with its subtree) under `new_parent`.
    pub(crate) fn reparent(&mut self, index: u32, new_parent: u32, newly: &mut Vec<u32>) {
        self.unlink_child(index);
        self.link_child(new_parent, index);
        self.recompute(index, newly);
    }

    /// The effective cancellation of `index`, checking its effective deadline against `now`.
    /// Returns the reason and, when the deadline passed but was not processed yet, the node
    /// whose deadline it is (the caller cancels it).
    #[inline]
    pub(crate) fn check(&self, index: u32, now: Instant) -> Check {
        let n = &self.nodes[index as usize];
        if n.cancelled {
            Check::Cancelled(n.reason)
        } else {
            match n.eff_deadline {
                Some(d) if d <= now => Check::DeadlinePassed(n.eff_deadline_node),
                _ => Check::NotCancelled,
            }
        }
    }
}

/// Result of [`StatusTree::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    NotCancelled,
    Cancelled(CancelReason),
    DeadlinePassed(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> NodeSettings {
        NodeSettings::default()
    }

    #[test]
    fn cancel_propagates_to_unshielded_descendants_only() {
        let mut t = StatusTree::default();
        let mut newly = Vec::new();
        let root = t.create(NO_STATUS, plain());
        let a = t.create(root.index, plain());
        let shielded = t.create(
            a.index,
            NodeSettings {
                shield: true,
                ..plain()
            },
        );
        let under_shield = t.create(shielded.index, plain());
        let b = t.create(a.index, plain());
        t.cancel(a.index, CancelReason::Explicit, &mut newly);
        newly.sort();
        let mut expected = vec![a.index, b.index];
        expected.sort();
        assert_eq!(newly, expected);
        assert!(t.node(b.index).cancelled);
        assert!(!t.node(shielded.index).cancelled);
        assert!(!t.node(under_shield.index).cancelled);
        newly.clear();
        t.set_shield(shielded.index, false, &mut newly);
        assert_eq!(newly.len(), 2);
        assert!(t.node(under_shield.index).cancelled);
        assert!(!t.node(root.index).cancelled);
    }

    #[test]
    fn outermost_reason_wins() {
        let mut t = StatusTree::default();
        let mut newly = Vec::new();
        let outer = t.create(NO_STATUS, plain());
        let inner = t.create(outer.index, plain());
        t.cancel(inner.index, CancelReason::Deadline, &mut newly);
        assert_eq!(t.node(inner.index).reason, CancelReason::Deadline);
        t.cancel(outer.index, CancelReason::Explicit, &mut newly);
        assert_eq!(t.node(inner.index).reason, CancelReason::Explicit);
    }

    #[test]
    fn effective_deadline_is_the_earliest_up_to_a_shield() {
        let mut t = StatusTree::default();
        let mut newly = Vec::new();
        let now = Instant::now();
        let outer = t.create(
            NO_STATUS,
            NodeSettings {
                deadline: Some(now + Duration::from_secs(1)),
                ..plain()
            },
        );
        let inner = t.create(
            outer.index,
            NodeSettings {
                deadline: Some(now + Duration::from_secs(5)),
                ..plain()
            },
        );
        assert_eq!(
            t.node(inner.index).eff_deadline,
            Some(now + Duration::from_secs(1))
        );
        assert_eq!(t.node(inner.index).eff_deadline_node, outer.index);
        t.set_shield(inner.index, true, &mut newly);
        assert_eq!(t.node(inner.index).eff_deadline_node, inner.index);
        t.set_deadline(inner.index, None, &mut newly);
        assert_eq!(t.node(inner.index).eff_deadline, None);
        assert_eq!(
            t.check(outer.index, now + Duration::from_secs(2)),
            Check::DeadlinePassed(outer.index)
        );
        assert_eq!(
            t.check(inner.index, now + Duration::from_secs(2)),
            Check::NotCancelled
        );
    }

    #[test]
    fn deep_nesting_is_iterative() {
        let mut t = StatusTree::default();
        let mut newly = Vec::new();
        let root = t.create(NO_STATUS, plain());
        let mut last = root;
        let depth = if cfg!(miri) { 500 } else { 20_000 };
        for _ in 0..depth {
            last = t.create(last.index, plain());
        }
        t.cancel(root.index, CancelReason::Explicit, &mut newly);
        assert_eq!(newly.len(), depth + 1);
        assert!(t.node(last.index).cancelled);
    }

    #[test]
    fn freed_ids_are_stale_and_reparenting_recomputes() {
        let mut t = StatusTree::default();
        let mut newly = Vec::new();
        let a = t.create(NO_STATUS, plain());
        let b = t.create(NO_STATUS, plain());
        t.cancel(b.index, CancelReason::SiblingFailed, &mut newly);
        let c = t.create(a.index, plain());
        assert!(!t.node(c.index).cancelled);
        newly.clear();
        t.reparent(c.index, b.index, &mut newly);
        assert_eq!(newly, vec![c.index]);
        assert_eq!(t.node(c.index).reason, CancelReason::SiblingFailed);
        t.free(c.index);
        assert!(!t.is_live(c));
        let d = t.create(a.index, plain());
        assert_eq!(d.index, c.index);
        assert!(t.is_live(d));
        assert!(!t.is_live(c));
    }
}
