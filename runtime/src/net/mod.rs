//! Networking: TCP, UDP and Unix domain sockets, name resolution, Happy Eyeballs and a
//! connection server.
//!
//! Every operation that can block is an `async fn` and a checkpoint; a timeout is a cancel
//! scope around it, and the socket stays usable after a timed-out read or write, because I/O
//! is readiness-based: a cancelled operation has transferred nothing.
//!
//! Guarantees:
//! - Sockets are non-blocking and registered with the runtime that created them; they can be
//!   used only there (elsewhere their operations fail with an error, they never panic).
//! - One task at a time may wait on a socket in each direction (reading, writing); a second
//!   one gets [`ResourceBusy`](std::io::ErrorKind::ResourceBusy). Split a stream to read and
//!   write from two tasks.
//! - Host names are resolved on worker threads; numeric addresses never leave the runtime's
//!   thread.
//!
//! ```
//! use scoro::io::{BufReader, Write};
//! use scoro::net::{TcpListener, TcpStream};
//! use scoro::nursery;
//!
//! #[scoro::structured]
//! async fn greet(listener: &TcpListener) -> std::io::Result<()> {
//!     let (mut conn, _) = listener.accept().await?;
//!     conn.write_all(b"hello from the server\n").await
//! }
//!
//! #[scoro::structured]
//! async fn main_task() -> std::io::Result<String> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let mut line = String::new();
//!     nursery(async |n| -> std::io::Result<()> {
//!         n.start_soon(greet(&listener));
//!         let mut reader = BufReader::new(TcpStream::connect(addr).await?);
//!         reader.read_line(&mut line).await?;
//!         Ok(())
//!     })
//!     .await?;
//!     Ok(line)
//! }
//!
//! assert_eq!(scoro::run(main_task()).unwrap(), "hello from the server\n");
//! ```

mod accept;
mod addr;
mod happy_eyeballs;
mod serve;
mod stream;
mod tcp;
mod udp;
mod unix;

pub use addr::{ToSocketAddrs, lookup_host};
pub use happy_eyeballs::{HAPPY_EYEBALLS_DELAY, connect_happy_eyeballs, open_tcp_stream};
pub use serve::serve_tcp;
pub(crate) use stream::StreamRef;
pub use stream::{ReadHalf, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
