//! TLS over any scoro stream, built on [rustls](https://docs.rs/rustls).
//!
//! [`connect`] and [`accept`] run the handshake over a stream (a
//! [`TcpStream`](crate::net::TcpStream), a [`UnixStream`](crate::net::UnixStream), or any type
//! that implements scoro's [`Read`] and [`Write`]) and return a [`TlsStream`], which is itself
//! a [`Read`] and a [`Write`]: what is written to it is encrypted, what is read from it is
//! decrypted. The rustls version scoro uses is re-exported as [`rustls`], so that the
//! configurations have the right types.
//!
//! Like every scoro I/O call, the handshake, [`read`](Read::read) and [`write`](Write::write)
//! are checkpoints and honour cancel scopes, and cancelling one loses nothing:
//!
//! - a cancelled `read` has handed out no plaintext, and whatever it had received stays
//!   buffered for the next `read`, so the stream stays usable;
//! - a cancelled `write` has either taken the plaintext (and returns `Ok(n)`, as if it had not
//!   been cancelled) or not taken any of it (and returns the cancellation). Encrypted records
//!   that could not be sent yet are sent at the start of the next `write`, `flush` or
//!   `shutdown`;
//! - a cancelled handshake returns the cancellation, and the stream it was given is dropped.
//!
//! [`shutdown`](Write::shutdown) ends the session properly: it sends TLS's `close_notify`
//! alert, then shuts down the stream's sending direction. A peer that does so makes `read`
//! return `Ok(0)`; a peer that just closes the connection makes `read` fail with
//! [`UnexpectedEof`](io::ErrorKind::UnexpectedEof), because an attacker could have cut the
//! data short.
//!
//! Configurations are rustls's own: [`rustls::ClientConfig`] (which certificates to trust,
//! ALPN protocols, client certificates) and [`rustls::ServerConfig`] (the certificate chain
//! and key). The `rustls` feature builds rustls with the `ring` crypto provider, so
//! `ClientConfig::builder()` and `ServerConfig::builder()` find it without more setup (unless
//! another crate in the build enables a second provider: then pick one with
//! `builder_with_provider`).
//!
//! ```
//! use std::sync::Arc;
//! use scoro::io::{Read, Write};
//! use scoro::net::{TcpListener, TcpStream};
//! use scoro::tls::rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
//! use scoro::tls::rustls::{ClientConfig, RootCertStore, ServerConfig};
//!
//! // A self-signed certificate for "localhost", made for the occasion.
//! let certified = rcgen::generate_simple_self_signed(["localhost".to_string()]).unwrap();
//! let cert = certified.cert.der().clone();
//! let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
//! let server_config = ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.clone()], key.into())
//!     .unwrap();
//! let mut roots = RootCertStore::empty();
//! roots.add(cert).unwrap();
//! let client_config = ClientConfig::builder()
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//!
//! #[scoro::structured]
//! async fn main_task(
//!     server_config: Arc<ServerConfig>,
//!     client_config: Arc<ClientConfig>,
//! ) -> std::io::Result<String> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let mut answer = String::new();
//!     scoro::nursery(async |n| -> std::io::Result<()> {
//!         // The server: accepts one connection and says hello.
//!         n.start_soon(async {
//!             let (tcp, _) = listener.accept().await?;
//!             let mut tls = scoro::tls::accept(server_config, tcp).await?;
//!             tls.write_all(b"hello over TLS").await?;
//!             tls.shutdown().await
//!         });
//!         // The client: checks the server's certificate against `roots`.
//!         let tcp = TcpStream::connect(addr).await?;
//!         let name = ServerName::try_from("localhost").unwrap();
//!         let mut tls = scoro::tls::connect(client_config, name, tcp).await?;
//!         tls.read_to_string(&mut answer).await?;
//!         Ok(())
//!     })
//!     .await?;
//!     Ok(answer)
//! }
//!
//! let answer = scoro::run(main_task(Arc::new(server_config), Arc::new(client_config)))?;
//! assert_eq!(answer, "hello over TLS");
//! # Ok::<(), std::io::Error>(())
//! ```

// Invariants:
// - The only await points are the underlying stream's `read` and `write` (and `flush`,
//   `shutdown`, checkpoints that move nothing), which move no bytes when they are cancelled.
//   Everything else is synchronous rustls work. So every byte read from the stream is in
//   `incoming[in_pos..in_end]` or inside rustls, and every encrypted byte rustls handed out is
//   in `outgoing[out_pos..]` until the stream took it: a cancellation loses neither.
// - Ciphertext is fed to rustls only while rustls holds no plaintext, so its plaintext buffer
//   never fills (`read_tls` would refuse it), and `read_tls` is never given an empty slice
//   except to report the end of the stream (rustls takes `Ok(0)` from its reader as EOF).
// - `read` does not write: records rustls wants to send after the handshake (key updates,
//   alerts) wait for the next `write`, `flush` or `shutdown`, so a reader never blocks on a
//   peer that is not reading.

use crate::CoroutineCall;
use crate::io::{Read, Write};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, IoState, ServerConfig, ServerConnection};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;

pub use rustls;

/// How much ciphertext one read of the underlying stream asks for: a full TLS record (16 KiB
/// of payload, plus header and the cipher's overhead).
const INCOMING_CAPACITY: usize = 16 * 1024 + 512;

/// Runs a TLS client handshake over `stream` and returns the encrypted stream.
///
/// `server_name` is the name the server's certificate must be valid for (and is sent to the
/// server, as SNI, when it is a DNS name). A checkpoint that honours cancel scopes, so a
/// timeout around it bounds the whole handshake.
///
/// Errors: a handshake that fails (a certificate that is not trusted or not valid for
/// `server_name`, no protocol version or cipher suite in common, an alert from the server) is
/// an [`InvalidData`](io::ErrorKind::InvalidData) error that starts with "TLS handshake failed"
/// and says why; a server that closes the connection during the handshake is an
/// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error; a configuration rustls refuses is an
/// [`InvalidInput`](io::ErrorKind::InvalidInput) error. Errors of the stream are returned as
/// they are.
///
/// See the [module documentation](self) for an example.
pub fn connect<S: Read + Write>(
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    stream: S,
) -> CoroutineCall<impl Future<Output = io::Result<TlsStream<S>>>> {
    CoroutineCall::internal(
        async move {
            crate::checkpoint_if_cancelled().inline().await?;
            let conn = ClientConnection::new(config, server_name).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("could not start a TLS client session: {e}"),
                )
            })?;
            let mut tls = TlsStream::new(stream, conn.into());
            tls.handshake().await?;
            Ok(tls)
        },
        "scoro::tls",
        "connect",
    )
}

/// Runs a TLS server handshake over `stream` (usually a connection just accepted) and returns
/// the encrypted stream.
///
/// A checkpoint that honours cancel scopes, so a timeout around it bounds the whole handshake
/// (a client that connects and says nothing would otherwise hold the task forever).
///
/// Errors: as for [`connect`]: a failed handshake (no protocol version or cipher suite in
/// common, a client certificate that is not trusted, an alert from the client, which is what a
/// client that does not trust the server's certificate sends) is an
/// [`InvalidData`](io::ErrorKind::InvalidData) error that starts with "TLS handshake failed"
/// and says why; a client that closes the connection during the handshake is an
/// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error.
///
/// See the [module documentation](self) for an example.
pub fn accept<S: Read + Write>(
    config: Arc<ServerConfig>,
    stream: S,
) -> CoroutineCall<impl Future<Output = io::Result<TlsStream<S>>>> {
    CoroutineCall::internal(
        async move {
            crate::checkpoint_if_cancelled().inline().await?;
            let conn = ServerConnection::new(config).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("could not start a TLS server session: {e}"),
                )
            })?;
            let mut tls = TlsStream::new(stream, conn.into());
            tls.handshake().await?;
            Ok(tls)
        },
        "scoro::tls",
        "accept",
    )
}

/// A TLS session over a stream `S`, made by [`connect`] or [`accept`]. Implements [`Read`]
/// and [`Write`].
///
/// - [`read`](Read::read) returns decrypted bytes. It returns `Ok(0)` once the peer has ended
///   the session with `close_notify` (see [`shutdown`](Write::shutdown)), and fails with
///   [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) if the stream ends without it: the data
///   may have been cut short by an attacker (a truncation attack). A record that does not
///   decrypt, or a fatal alert from the peer, is an [`InvalidData`](io::ErrorKind::InvalidData)
///   error. A cancelled `read` has handed out nothing, and what it had received stays buffered:
///   the next `read` returns it.
/// - [`write`](Write::write) encrypts some of its buffer and sends the records. A cancelled
///   `write` either took the plaintext and returns `Ok(n)`, or took none of it and returns the
///   cancellation. Records it could not send yet are sent first by the next `write`,
///   [`flush`](Write::flush) or [`shutdown`](Write::shutdown).
/// - [`flush`](Write::flush) sends every pending record, then flushes the stream.
/// - [`shutdown`](Write::shutdown) sends `close_notify` and every pending record, then shuts
///   down the stream's sending direction. Reading may go on.
///
/// Like a [`TcpStream`](crate::net::TcpStream), a `TlsStream` is used by one task at a time:
/// a session cannot be split into a reading and a writing half.
///
/// See the [module documentation](self) for an example.
pub struct TlsStream<S> {
    io: S,
    conn: Connection,
    /// Ciphertext read from `io`; `incoming[in_pos..in_end]` is not in rustls yet.
    incoming: Box<[u8]>,
    in_pos: usize,
    in_end: usize,
    /// `io` returned the end of the stream (and rustls was told).
    eof: bool,
    /// Records rustls handed out; `outgoing[out_pos..]` is not written to `io` yet.
    outgoing: Vec<u8>,
    out_pos: usize,
}

impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.conn {
            Connection::Client(_) => "client",
            Connection::Server(_) => "server",
        };
        f.debug_struct("TlsStream")
            .field("inner", &self.io)
            .field("side", &side)
            .field("protocol_version", &self.conn.protocol_version())
            .field("cipher_suite", &self.conn.negotiated_cipher_suite())
            .finish_non_exhaustive()
    }
}

impl<S> TlsStream<S> {
    fn new(io: S, conn: Connection) -> Self {
        TlsStream {
            io,
            conn,
            incoming: vec![0; INCOMING_CAPACITY].into_boxed_slice(),
            in_pos: 0,
            in_end: 0,
            eof: false,
            outgoing: Vec::new(),
            out_pos: 0,
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The underlying stream, to change its settings.
    ///
    /// Reading from it or writing to it directly takes bytes out of the TLS session or puts
    /// bytes into it that the peer cannot decrypt: the session is then corrupted, and the
    /// peer will most likely end it with an error.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Gives the underlying stream back, ending the session without telling the peer (call
    /// [`shutdown`](Write::shutdown) first to end it properly). What was received and not
    /// read yet, and records not sent yet, are dropped.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// The rustls session: whether this is the client or the server side, and, through
    /// [`CommonState`](rustls::CommonState) (which it dereferences to), what the handshake
    /// negotiated: [`protocol_version`](rustls::CommonState::protocol_version),
    /// [`negotiated_cipher_suite`](rustls::CommonState::negotiated_cipher_suite),
    /// [`alpn_protocol`](rustls::CommonState::alpn_protocol) and the
    /// [`peer_certificates`](rustls::CommonState::peer_certificates). On the server side,
    /// [`ServerConnection::server_name`] is the name the client asked for (SNI).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Feeds buffered ciphertext to rustls and processes it, until rustls holds plaintext,
    /// the peer has closed the session, or nothing is left to feed. `what` starts the message
    /// of a TLS error.
    fn feed(&mut self, what: &str) -> io::Result<IoState> {
        loop {
            let state = self
                .conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}")))?;
            if state.peer_has_closed() {
                // Nothing after `close_notify` is read.
                self.in_pos = self.in_end;
            }
            if self.in_pos == self.in_end || state.plaintext_bytes_to_read() > 0 {
                return Ok(state);
            }
            let n = self
                .conn
                .read_tls(&mut &self.incoming[self.in_pos..self.in_end])?;
            if n == 0 {
                // rustls reads nothing more once it has received `close_notify`.
                self.in_pos = self.in_end;
            } else {
                self.in_pos += n;
            }
        }
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// Reads ciphertext from the stream into `incoming` (which must be fed already); returns
    /// `false` at the end of the stream, which rustls is told about. A checkpoint.
    async fn read_ciphertext(&mut self) -> io::Result<bool> {
        debug_assert_eq!(self.in_pos, self.in_end, "all ciphertext was fed first");
        let n = self.io.read(&mut self.incoming).inline().await?;
        self.in_pos = 0;
        self.in_end = n;
        if n == 0 {
            self.eof = true;
            // An empty reader tells rustls that the stream ended.
            self.conn.read_tls(&mut &[][..])?;
        }
        Ok(n > 0)
    }

    /// Writes every pending record to the stream. Each write is a checkpoint; with nothing
    /// pending, this does not await at all.
    async fn send_records(&mut self) -> io::Result<()> {
        loop {
            if self.out_pos == self.outgoing.len() {
                self.outgoing.clear();
                self.out_pos = 0;
                if !self.conn.wants_write() {
                    return Ok(());
                }
                self.conn.write_tls(&mut self.outgoing)?;
                continue;
            }
            let n = self
                .io
                .write(&self.outgoing[self.out_pos..])
                .inline()
                .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the underlying stream accepts no more TLS records",
                ));
            }
            self.out_pos += n;
        }
    }

    /// Runs the handshake to its end, including sending the last flight of records.
    async fn handshake(&mut self) -> io::Result<()> {
        loop {
            self.send_records().await?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if !self.read_ciphertext().await? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "TLS handshake failed: the peer closed the connection before it was done",
                ));
            }
            if let Err(e) = self.feed("TLS handshake failed") {
                // Tell the peer why (rustls queued an alert), as far as the stream lets us.
                if self.send_records().await.is_ok() {
                    let _ = self.io.flush().inline().await;
                }
                return Err(e);
            }
        }
    }

    async fn read_plaintext(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            crate::checkpoint().inline().await?;
            return Ok(0);
        }
        // Whether this call already went through a checkpoint (a read of the stream).
        let mut checkpointed = false;
        loop {
            let state = self.feed("TLS error")?;
            if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() || self.eof {
                if !checkpointed {
                    crate::checkpoint().inline().await?;
                }
                return match io::Read::read(&mut self.conn.reader(), buf) {
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection without ending the TLS session \
                         (no close_notify): the data may have been truncated",
                    )),
                    other => other,
                };
            }
            self.read_ciphertext().await?;
            checkpointed = true;
        }
    }

    async fn write_plaintext(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::checkpoint_if_cancelled().inline().await?;
        // Until this returns, no plaintext is taken: a cancellation returns as it is.
        self.send_records().await?;
        if buf.is_empty() {
            crate::checkpoint().inline().await?;
            return Ok(0);
        }
        let n = io::Write::write(&mut self.conn.writer(), buf)?;
        match self.send_records().await {
            // The plaintext is taken: what is not sent yet goes with the next write, flush or
            // shutdown.
            Err(e) if crate::MaybeCancelled::is_cancel_requested(&e) => Ok(n),
            Err(e) => Err(e),
            Ok(()) => Ok(n),
        }
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    /// Reads decrypted bytes; see [`TlsStream`] for what the end of the session and
    /// cancellation do.
    fn read(&mut self, buf: &mut [u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(self.read_plaintext(buf), "scoro::tls", "TlsStream::read")
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    /// Encrypts some of `buf` and sends it; see [`TlsStream`] for what cancellation does.
    fn write(&mut self, buf: &[u8]) -> CoroutineCall<impl Future<Output = io::Result<usize>>> {
        CoroutineCall::internal(self.write_plaintext(buf), "scoro::tls", "TlsStream::write")
    }

    /// Sends every pending record, then flushes the underlying stream.
    fn flush(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint_if_cancelled().inline().await?;
                self.send_records().await?;
                self.io.flush().inline().await
            },
            "scoro::tls",
            "TlsStream::flush",
        )
    }

    /// Ends the session: sends `close_notify` and every pending record, then shuts down the
    /// underlying stream's sending direction. Reading may go on.
    fn shutdown(&mut self) -> CoroutineCall<impl Future<Output = io::Result<()>>> {
        CoroutineCall::internal(
            async move {
                crate::checkpoint_if_cancelled().inline().await?;
                // Queued once: rustls ignores the calls after the first.
                self.conn.send_close_notify();
                self.send_records().await?;
                self.io.shutdown().inline().await
            },
            "scoro::tls",
            "TlsStream::shutdown",
        )
    }
}
