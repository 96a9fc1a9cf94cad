//! How the scheduler names tasks: [`TaskRef`] and the "no task" marker of slab indices. A leaf
//! module, so that every part of the scheduler can use them.

/// Marks "no task" where a task's slab index is stored (`u32::MAX` is never an index).
pub(crate) const NO_TASK: u32 = u32::MAX;

/// A task: the run it belongs to, slab index and generation. A `TaskRef` of another run (kept
/// by some object across runs) never names a task of this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TaskRef {
    pub(in crate::runtime) index: u32,
    pub(in crate::runtime) generation: u32,
    pub(in crate::runtime) run: u32,
}
