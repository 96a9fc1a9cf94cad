//! The cancel-scope part of the seam: cancel scopes, nurseries, `start` and sleeps manage the
//! cancel status tree through these calls, by [`StatusId`]. Every call is a no-op (or answers
//! `None`) for a scope that has exited, or outside the run the scope belongs to.

use super::super::core::{try_with_core, with_core};

use crate::cancellation::CancelReason;
use std::time::Instant;

pub(crate) use super::super::core::ScopeExit;
pub(crate) use super::super::status::{NodeSettings, ScopeKind, StatusId};

/// Cancels the scope `id`: every task in it (and in scopes under it that are not shielded)
/// sees the cancellation at its next checkpoint, and blocked ones are woken.
#[inline]
pub(crate) fn cancel(id: StatusId, reason: CancelReason) {
    try_with_core(|core| core.cancel_status(id, reason));
}

/// Has cancellation been requested of scope `id` itself (by [`cancel`] or its own deadline)?
/// `None` once it has exited.
#[inline]
pub(crate) fn cancel_called(id: StatusId) -> Option<bool> {
    try_with_core(|core| core.scope_cancel_called(id)).flatten()
}

/// The deadline of scope `id`; `None` once it has exited.
#[inline]
pub(crate) fn deadline(id: StatusId) -> Option<Option<Instant>> {
    try_with_core(|core| core.scope_deadline(id)).flatten()
}

/// Changes the deadline of scope `id`.
#[inline]
pub(crate) fn set_deadline(id: StatusId, deadline: Option<Instant>) {
    try_with_core(|core| core.set_deadline(id, deadline));
}

/// Shields scope `id` from the cancellation of the scopes around it, or stops doing so.
#[inline]
pub(crate) fn set_shield(id: StatusId, shield: bool) {
    try_with_core(|core| core.set_shield(id, shield));
}

/// A new scope under `parent` that no task is in yet (a pending `start`'s).
///
/// # Panics
/// Outside a running scoro runtime.
pub(crate) fn create(parent: StatusId) -> StatusId {
    with_core(|core| core.create_status(parent))
}

/// Frees a scope made by [`create`] that no task is in any more.
pub(crate) fn free(id: StatusId) {
    try_with_core(|core| core.free_status(id));
}

/// Moves scope `id` under `new_parent` (a started task joining its nursery).
pub(crate) fn reparent(id: StatusId, new_parent: StatusId) {
    try_with_core(|core| core.reparent_status(id, new_parent));
}

/// Is the scope around `id` cancelled (in a way `id` sees)?
pub(crate) fn parent_cancelled(id: StatusId) -> bool {
    try_with_core(|core| core.status_parent_cancelled(id)) == Some(true)
}
