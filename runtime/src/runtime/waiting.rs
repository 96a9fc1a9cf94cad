//! What a blocked task waits in: one byte per task, stored when the task blocks, so that the
//! task tree (`scoro::observe`) can name the scoro call every blocked task is stuck in.
//!
//! Invariants:
//! - The value in a task's slot is meaningful only while the task is not running: the scheduler
//!   resets it to [`Waiting::Nothing`] each time the task's step starts, and the blocking call
//!   stores its own value when it parks (one byte store, no allocation).
//! - Each variant names a public scoro call, as a user would write it; calls that share an
//!   implementation (the read of every stream type, say) pass their own variant down.

/// The scoro call a task is blocked in. `#[repr(u8)]`, so it fits in the padding of a task's
/// slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
#[allow(dead_code)] // TODO(wiring): every variant gets its call
pub(crate) enum Waiting {
    /// Not blocked in a scoro call that names itself (running, runnable, or blocked in a
    /// wait that said nothing).
    #[default]
    Nothing,
    Sleep,
    SleepUntil,
    SleepForever,
    LockLock,
    SemaphoreAcquire,
    CapacityLimiterAcquire,
    EventWait,
    ConditionWait,
    ParkingLotPark,
    ChannelSend,
    ChannelRecv,
    ChannelNext,
    TcpAccept,
    TcpConnect,
    TcpRead,
    TcpWrite,
    TcpShutdown,
    UnixAccept,
    UnixConnect,
    UnixRead,
    UnixWrite,
    UnixShutdown,
    UdpSend,
    UdpRecv,
    AsyncRead,
    AsyncWrite,
    AsyncShutdown,
    BufRead,
    FdReadable,
    FdWritable,
    RunSync,
    RunSyncAbandon,
    FromThread,
    Suspend,
    SignalRecv,
    CtrlC,
    CompatFuture,
    Nursery,
    NurseryStart,
    WaitAllTasksBlocked,
}

impl Waiting {
    /// The call, as a path the user wrote (`None` for [`Waiting::Nothing`]).
    pub(crate) fn call(self) -> Option<&'static str> {
        Some(match self {
            Waiting::Nothing => return None,
            Waiting::Sleep => "scoro::sleep",
            Waiting::SleepUntil => "scoro::sleep_until",
            Waiting::SleepForever => "scoro::sleep_forever",
            Waiting::LockLock => "scoro::sync::Lock::lock",
            Waiting::SemaphoreAcquire => "scoro::sync::Semaphore::acquire",
            Waiting::CapacityLimiterAcquire => "scoro::sync::CapacityLimiter::acquire",
            Waiting::EventWait => "scoro::sync::Event::wait",
            Waiting::ConditionWait => "scoro::sync::Condition::wait",
            Waiting::ParkingLotPark => "scoro::lowlevel::ParkingLot::park",
            Waiting::ChannelSend => "scoro::channel::Sender::send",
            Waiting::ChannelRecv => "scoro::channel::Receiver::recv",
            Waiting::ChannelNext => "scoro::channel::Receiver::next",
            Waiting::TcpAccept => "scoro::net::TcpListener::accept",
            Waiting::TcpConnect => "scoro::net::TcpStream::connect",
            Waiting::TcpRead => "scoro::net::TcpStream::read",
            Waiting::TcpWrite => "scoro::net::TcpStream::write",
            Waiting::TcpShutdown => "scoro::net::TcpStream::shutdown",
            Waiting::UnixAccept => "scoro::net::UnixListener::accept",
            Waiting::UnixConnect => "scoro::net::UnixStream::connect",
            Waiting::UnixRead => "scoro::net::UnixStream::read",
            Waiting::UnixWrite => "scoro::net::UnixStream::write",
            Waiting::UnixShutdown => "scoro::net::UnixStream::shutdown",
            Waiting::UdpSend => "scoro::net::UdpSocket::send_to",
            Waiting::UdpRecv => "scoro::net::UdpSocket::recv_from",
            Waiting::AsyncRead => "scoro::io::AsyncRead::read",
            Waiting::AsyncWrite => "scoro::io::AsyncWrite::write",
            Waiting::AsyncShutdown => "scoro::io::AsyncWrite::shutdown",
            Waiting::BufRead => "scoro::io::BufReader (filling its buffer)",
            Waiting::FdReadable => "scoro::lowlevel::wait_readable",
            Waiting::FdWritable => "scoro::lowlevel::wait_writable",
            Waiting::RunSync => "scoro::to_thread::run_sync",
            Waiting::RunSyncAbandon => "scoro::to_thread::run_sync_abandon",
            Waiting::FromThread => "scoro::from_thread::run",
            Waiting::Suspend => "scoro::lowlevel::suspend",
            Waiting::SignalRecv => "scoro::signal::SignalReceiver::recv",
            Waiting::CtrlC => "scoro::signal::ctrl_c",
            Waiting::CompatFuture => "scoro::compat::future",
            Waiting::Nursery => "scoro::nursery (waiting for its children)",
            Waiting::NurseryStart => "scoro::Nursery::start (waiting for `started`)",
            Waiting::WaitAllTasksBlocked => "scoro::testing::wait_all_tasks_blocked",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Waiting;

    #[test]
    fn fits_in_a_byte_and_only_nothing_is_unnamed() {
        assert_eq!(std::mem::size_of::<Waiting>(), 1);
        assert_eq!(Waiting::Nothing.call(), None);
        assert_eq!(Waiting::LockLock.call(), Some("scoro::sync::Lock::lock"));
    }
}
