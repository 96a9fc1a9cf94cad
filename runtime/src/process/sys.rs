//! The system calls of `scoro::process` that Rust's standard library does not offer: a
//! descriptor that becomes readable when a child exits (a pidfd, or a pipe closed by a thread
//! that waits for the exit), a look at whether a child has exited that leaves it unreaped,
//! signals, and a blocking reap by process id.
//!
//! Invariant: nothing here reaps a child except [`reap_blocking`], which is only called for a
//! child whose `std::process::Child` is being dropped unreaped; every other reap goes through
//! `std::process::Child::try_wait`, so the standard library's record of the child stays right
//! and a process id is never signalled after it was reaped (and could have been reused).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// The process id as the C calls take it.
fn pid_t(pid: u32) -> io::Result<libc::pid_t> {
    libc::pid_t::try_from(pid).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("process id {pid} is out of range"),
        )
    })
}

/// A pidfd for the child `pid`: it becomes readable when the child exits. Fails with the
/// kernel's error where pidfds are missing (`ENOSYS` before Linux 5.3) or forbidden (`EPERM`
/// under some seccomp filters); the caller falls back to [`exit_pipe`].
pub(super) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = pid_t(pid)?;
    // SAFETY: `pidfd_open(pid, flags)` reads no memory of ours; it returns a new descriptor
    // (close-on-exec) or -1 with `errno` set.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd)
        .map_err(|_| io::Error::other("pidfd_open returned no descriptor"))?;
    // SAFETY: `fd` was just returned by `pidfd_open`: an open descriptor that nothing else
    // owns, so the `OwnedFd` is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Where pidfds are missing: a pipe whose read end becomes readable (at its end) once the
/// child `pid` has exited, closed by a thread that waits for that exit without reaping it.
pub(super) fn exit_pipe(pid: u32) -> io::Result<mio::unix::pipe::Receiver> {
    let pid = pid_t(pid)?;
    let (sender, receiver) = mio::unix::pipe::new()?;
    std::thread::Builder::new()
        .name("scoro-child-exit".into())
        .spawn(move || {
            // Whatever the outcome (exited, or reaped by someone else: `ECHILD`), closing the
            // pipe wakes the waiting task, which then looks at the child itself.
            let _ = wait_exited(pid, true);
            drop(sender);
        })?;
    Ok(receiver)
}

/// Whether the child `pid` has exited, leaving it unreaped (`waitid` with `WNOWAIT`); with
/// `block`, waits until it has.
fn wait_exited(pid: libc::pid_t, block: bool) -> io::Result<bool> {
    let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
    let id = libc::id_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: `siginfo_t` is a plain C struct for which all zeroes is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the duration of the call, which
        // writes nothing else.
        let r = unsafe { libc::waitid(libc::P_PID, id, &mut info, flags) };
        if r == 0 {
            // With `WNOHANG`, a child that has not exited leaves `si_pid` at 0.
            // SAFETY: `waitid` succeeded, so `info` holds either zeroes or a `SIGCHLD`
            // record, for which `si_pid` is the field to read.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether the child `pid` has exited, without reaping it.
pub(super) fn has_exited(pid: u32) -> io::Result<bool> {
    wait_exited(pid_t(pid)?, false)
}

/// Sends `signal` to the process `pid`, or to the process group `pid` when `group`.
pub(super) fn send_signal(pid: u32, signal: i32, group: bool) -> io::Result<()> {
    let pid = pid_t(pid)?;
    let target = if group { -pid } else { pid };
    // SAFETY: `kill` reads no memory of ours.
    if unsafe { libc::kill(target, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits for the child `pid` and reaps it, for a child about to be forgotten unreaped.
pub(super) fn reap_blocking(pid: u32) {
    let Ok(pid) = pid_t(pid) else { return };
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid, writable `c_int` for the duration of the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Whether `signal` is a signal number that `kill` accepts (0, the existence check, is not a
/// signal that ends anything, so it is refused too).
pub(super) fn valid_signal(signal: i32) -> bool {
    (1..=libc::SIGRTMAX()).contains(&signal)
}
