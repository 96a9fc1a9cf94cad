//! What a blocked task waits in: one byte per task, stored when the task blocks, so that the
//! task tree (`scoro::observe`) can name the scoro call every blocked task is stuck in.
//!
//! Invariants:
//! - The value in a task's slot is meaningful only while the task is blocked: every blocking
//!   call stores its own value when it parks or notes its wait (one byte store, no allocation;
//!   `Wait::waiting` is a required method, and the waits that are not a `Wait` note theirs).
//!   Nothing resets it when the task runs again: the task tree shows it for blocked tasks only.
//! - Each variant names a public scoro call, as a user would write it; calls that share an
//!   implementation (the read of every stream type, say) pass their own variant down.

/// The scoro call a task is blocked in. `#[repr(u8)]`, so it fits in the padding of a task's
/// slot. Each variant documents the call it names (see [`Waiting::call`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Waiting {
    /// Not blocked in a scoro call that names itself (running, runnable, or blocked in a
    /// wait that said nothing).
    #[default]
    Nothing,
    /// `scoro::sleep`.
    Sleep,
    /// `scoro::sleep_until`.
    SleepUntil,
    /// `scoro::sleep_forever`.
    SleepForever,
    /// `scoro::sync::Lock::lock`.
    LockLock,
    /// `scoro::sync::Semaphore::acquire`.
    SemaphoreAcquire,
    /// `scoro::sync::CapacityLimiter::acquire`.
    CapacityLimiterAcquire,
    /// `scoro::sync::Event::wait`.
    EventWait,
    /// `scoro::sync::Condition::wait` (for the notification, or for the lock afterwards).
    ConditionWait,
    /// `scoro::lowlevel::ParkingLot::park`.
    ParkingLotPark,
    /// `scoro::channel::Sender::send` (the channel is full).
    ChannelSend,
    /// `scoro::channel::Receiver::recv` (the channel is empty).
    ChannelRecv,
    /// `scoro::channel::Receiver::next` (the channel is empty).
    ChannelNext,
    /// `scoro::net::TcpListener::accept`.
    TcpAccept,
    /// `scoro::net::TcpStream::connect`.
    TcpConnect,
    /// `scoro::net::TcpStream::read` (and the reads built on it: `read_exact`, `BufReader`..).
    TcpRead,
    /// `scoro::net::TcpStream::write` (and `write_all`).
    TcpWrite,
    /// `scoro::net::UnixListener::accept`.
    UnixAccept,
    /// `scoro::net::UnixStream::connect`.
    UnixConnect,
    /// `scoro::net::UnixStream::read`.
    UnixRead,
    /// `scoro::net::UnixStream::write`.
    UnixWrite,
    /// `scoro::net::ReadHalf::read`, on either kind of stream.
    ReadHalfRead,
    /// `scoro::net::WriteHalf::write`, on either kind of stream.
    WriteHalfWrite,
    /// `scoro::net::UdpSocket::send_to`.
    UdpSend,
    /// `scoro::net::UdpSocket::recv_from`.
    UdpRecv,
    /// `scoro::net::open_tcp_stream`: an attempt connecting, or the stagger between them.
    OpenTcpStream,
    /// `scoro::net::connect_happy_eyeballs`: the same, for given addresses.
    ConnectHappyEyeballs,
    /// `scoro::lowlevel::wait_readable`.
    FdReadable,
    /// `scoro::lowlevel::wait_writable`.
    FdWritable,
    /// `scoro::to_thread::run_sync` (its worker, or a worker token).
    RunSync,
    /// `scoro::to_thread::run_sync_abandon` (its worker, or a worker token).
    RunSyncAbandon,
    /// `scoro::lowlevel::suspend`.
    Suspend,
    /// `scoro::signal::SignalReceiver::recv`.
    SignalRecv,
    /// `scoro::signal::wait_for_ctrl_c`.
    WaitForCtrlC,
    /// `scoro::compat::future`.
    CompatFuture,
    /// A nursery (its task, once the body is done) waiting for its children.
    Nursery,
    /// `scoro::Nursery::start` waiting for the child to call `started`.
    NurseryStart,
    /// `scoro::Interval::tick`.
    IntervalTick,
    /// `scoro::sync::RwLock::read`.
    RwLockRead,
    /// `scoro::sync::RwLock::write`.
    RwLockWrite,
    /// `scoro::sync::Barrier::wait`.
    BarrierWait,
    /// `scoro::channel::watch::Receiver::changed`.
    WatchChanged,
    /// `scoro::process::Child::wait` (also `kill`, `communicate` and `Command::status`, `output`
    /// and `run`, which wait through it).
    ChildWait,
    /// `scoro::process::ChildStdin::write`.
    ChildStdinWrite,
    /// `scoro::process::ChildStdout::read`.
    ChildStdoutRead,
    /// `scoro::process::ChildStderr::read`.
    ChildStderrRead,
    /// `scoro::testing::wait_all_tasks_blocked`.
    WaitAllTasksBlocked,
}

impl Waiting {
    /// The variant whose `as u8` value is `value` (for calls that carry their variant as a
    /// const generic, see `sync::Acquire`); [`Waiting::Nothing`] for any other value.
    pub(crate) const fn from_u8(value: u8) -> Waiting {
        match value {
            x if x == Waiting::Nothing as u8 => Waiting::Nothing,
            x if x == Waiting::Sleep as u8 => Waiting::Sleep,
            x if x == Waiting::SleepUntil as u8 => Waiting::SleepUntil,
            x if x == Waiting::SleepForever as u8 => Waiting::SleepForever,
            x if x == Waiting::LockLock as u8 => Waiting::LockLock,
            x if x == Waiting::SemaphoreAcquire as u8 => Waiting::SemaphoreAcquire,
            x if x == Waiting::CapacityLimiterAcquire as u8 => Waiting::CapacityLimiterAcquire,
            x if x == Waiting::EventWait as u8 => Waiting::EventWait,
            x if x == Waiting::ConditionWait as u8 => Waiting::ConditionWait,
            x if x == Waiting::ParkingLotPark as u8 => Waiting::ParkingLotPark,
            x if x == Waiting::ChannelSend as u8 => Waiting::ChannelSend,
            x if x == Waiting::ChannelRecv as u8 => Waiting::ChannelRecv,
            x if x == Waiting::ChannelNext as u8 => Waiting::ChannelNext,
            x if x == Waiting::TcpAccept as u8 => Waiting::TcpAccept,
            x if x == Waiting::TcpConnect as u8 => Waiting::TcpConnect,
            x if x == Waiting::TcpRead as u8 => Waiting::TcpRead,
            x if x == Waiting::TcpWrite as u8 => Waiting::TcpWrite,
            x if x == Waiting::UnixAccept as u8 => Waiting::UnixAccept,
            x if x == Waiting::UnixConnect as u8 => Waiting::UnixConnect,
            x if x == Waiting::UnixRead as u8 => Waiting::UnixRead,
            x if x == Waiting::UnixWrite as u8 => Waiting::UnixWrite,
            x if x == Waiting::ReadHalfRead as u8 => Waiting::ReadHalfRead,
            x if x == Waiting::WriteHalfWrite as u8 => Waiting::WriteHalfWrite,
            x if x == Waiting::UdpSend as u8 => Waiting::UdpSend,
            x if x == Waiting::UdpRecv as u8 => Waiting::UdpRecv,
            x if x == Waiting::OpenTcpStream as u8 => Waiting::OpenTcpStream,
            x if x == Waiting::ConnectHappyEyeballs as u8 => Waiting::ConnectHappyEyeballs,
            x if x == Waiting::FdReadable as u8 => Waiting::FdReadable,
            x if x == Waiting::FdWritable as u8 => Waiting::FdWritable,
            x if x == Waiting::RunSync as u8 => Waiting::RunSync,
            x if x == Waiting::RunSyncAbandon as u8 => Waiting::RunSyncAbandon,
            x if x == Waiting::Suspend as u8 => Waiting::Suspend,
            x if x == Waiting::SignalRecv as u8 => Waiting::SignalRecv,
            x if x == Waiting::WaitForCtrlC as u8 => Waiting::WaitForCtrlC,
            x if x == Waiting::CompatFuture as u8 => Waiting::CompatFuture,
            x if x == Waiting::Nursery as u8 => Waiting::Nursery,
            x if x == Waiting::NurseryStart as u8 => Waiting::NurseryStart,
            x if x == Waiting::IntervalTick as u8 => Waiting::IntervalTick,
            x if x == Waiting::RwLockRead as u8 => Waiting::RwLockRead,
            x if x == Waiting::RwLockWrite as u8 => Waiting::RwLockWrite,
            x if x == Waiting::BarrierWait as u8 => Waiting::BarrierWait,
            x if x == Waiting::WatchChanged as u8 => Waiting::WatchChanged,
            x if x == Waiting::ChildWait as u8 => Waiting::ChildWait,
            x if x == Waiting::ChildStdinWrite as u8 => Waiting::ChildStdinWrite,
            x if x == Waiting::ChildStdoutRead as u8 => Waiting::ChildStdoutRead,
            x if x == Waiting::ChildStderrRead as u8 => Waiting::ChildStderrRead,
            x if x == Waiting::WaitAllTasksBlocked as u8 => Waiting::WaitAllTasksBlocked,
            _ => Waiting::Nothing,
        }
    }

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
            Waiting::UnixAccept => "scoro::net::UnixListener::accept",
            Waiting::UnixConnect => "scoro::net::UnixStream::connect",
            Waiting::UnixRead => "scoro::net::UnixStream::read",
            Waiting::UnixWrite => "scoro::net::UnixStream::write",
            Waiting::ReadHalfRead => "scoro::net::ReadHalf::read",
            Waiting::WriteHalfWrite => "scoro::net::WriteHalf::write",
            Waiting::UdpSend => "scoro::net::UdpSocket::send_to",
            Waiting::UdpRecv => "scoro::net::UdpSocket::recv_from",
            Waiting::OpenTcpStream => "scoro::net::open_tcp_stream",
            Waiting::ConnectHappyEyeballs => "scoro::net::connect_happy_eyeballs",
            Waiting::FdReadable => "scoro::lowlevel::wait_readable",
            Waiting::FdWritable => "scoro::lowlevel::wait_writable",
            Waiting::RunSync => "scoro::to_thread::run_sync",
            Waiting::RunSyncAbandon => "scoro::to_thread::run_sync_abandon",
            Waiting::Suspend => "scoro::lowlevel::suspend",
            Waiting::SignalRecv => "scoro::signal::SignalReceiver::recv",
            Waiting::WaitForCtrlC => "scoro::signal::wait_for_ctrl_c",
            Waiting::CompatFuture => "scoro::compat::future",
            Waiting::Nursery => "scoro::nursery (waiting for its children)",
            Waiting::NurseryStart => "scoro::Nursery::start (waiting for `started`)",
            Waiting::IntervalTick => "scoro::Interval::tick",
            Waiting::RwLockRead => "scoro::sync::RwLock::read",
            Waiting::RwLockWrite => "scoro::sync::RwLock::write",
            Waiting::BarrierWait => "scoro::sync::Barrier::wait",
            Waiting::WatchChanged => "scoro::channel::watch::Receiver::changed",
            Waiting::ChildWait => "scoro::process::Child::wait",
            Waiting::ChildStdinWrite => "scoro::process::ChildStdin::write",
            Waiting::ChildStdoutRead => "scoro::process::ChildStdout::read",
            Waiting::ChildStderrRead => "scoro::process::ChildStderr::read",
            Waiting::WaitAllTasksBlocked => "scoro::testing::wait_all_tasks_blocked",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Waiting;

    #[test]
    fn from_u8_gives_every_variant_back() {
        let mut named = 0;
        for v in 0..=u8::MAX {
            let w = Waiting::from_u8(v);
            if w != Waiting::Nothing {
                assert_eq!(w as u8, v);
                named += 1;
            }
        }
        // Every variant but `Nothing` (0) comes back, so a new variant cannot be forgotten.
        assert_eq!(named, Waiting::WaitAllTasksBlocked as u8);
    }

    #[test]
    fn fits_in_a_byte_and_only_nothing_is_unnamed() {
        assert_eq!(std::mem::size_of::<Waiting>(), 1);
        assert_eq!(Waiting::Nothing.call(), None);
        assert_eq!(Waiting::LockLock.call(), Some("scoro::sync::Lock::lock"));
    }
}
