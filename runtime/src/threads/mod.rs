//! Threads: running blocking functions on worker threads ([`to_thread`]) and calling back into
//! the runtime from other threads ([`from_thread`]).
//!
//! `link` is what both sides share (a job's link and the rendezvous of a call back); neither
//! public module imports the other.

pub mod from_thread;
mod link;
pub mod to_thread;

pub(crate) use to_thread::worker_threads;
