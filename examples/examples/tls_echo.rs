//! An echo server over TLS, and clients for it, in one program over loopback.
//!
//! ```text
//! cargo run -p examples --example tls_echo
//! ```
//!
//! At start it makes a self-signed certificate for `localhost` (with rcgen), serves TLS
//! connections on 127.0.0.1 with it, and runs a few clients that trust that certificate, each
//! sending lines and checking that they come back. The server gives each client five seconds
//! for its handshake, so that one that connects and says nothing does not hold a task for
//! ever. Once the clients are done the server is cancelled, and the program ends.

use scoro::io::{BufReader, Read, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::tls::rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use scoro::tls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use scoro::{CancelScope, MaybeCancelled, move_on_after, nursery, structured};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A server configuration with a new self-signed certificate for `localhost`, and a client
/// configuration that trusts it (and nothing else).
fn configs() -> io::Result<(Arc<ServerConfig>, Arc<ClientConfig>)> {
    let invalid =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let certified =
        rcgen::generate_simple_self_signed(["localhost".to_string()]).map_err(|e| invalid(&e))?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .map_err(|e| invalid(&e))?;
    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(|e| invalid(&e))?;
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(server), Arc::new(client)))
}

/// Echoes until the client ends the session, then ends it too.
#[structured]
async fn echo<S: Read + Write>(tls: &mut scoro::tls::TlsStream<S>) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            // The client sent close_notify.
            return tls.shutdown().await;
        }
        tls.write_all(&buf[..n]).await?;
    }
}

/// Serves one connection: the handshake, under a timeout, then the echo. The errors of this
/// connection are reported and end only it.
#[structured]
async fn serve_one(config: Arc<ServerConfig>, tcp: TcpStream) -> io::Result<()> {
    let Ok(peer) = tcp.peer_addr() else {
        // The client already reset the connection: there is no one to serve.
        return Ok(());
    };
    let outcome = match move_on_after(HANDSHAKE_TIMEOUT, scoro::tls::accept(config, tcp)).await {
        None => {
            println!("server: {peer} did not finish its handshake in time");
            return Ok(());
        }
        Some(Ok(mut tls)) => echo(&mut tls).await,
        Some(Err(e)) => Err(e),
    };
    match outcome {
        Ok(()) => println!("server: {peer} is done"),
        // The server is being cancelled: that propagates.
        Err(e) if e.is_cancel_requested() => return Err(e),
        Err(e) => println!("server: {peer} failed: {e}"),
    }
    Ok(())
}

/// Connects, sends `lines`, and checks that each comes back.
#[structured]
async fn client(config: Arc<ClientConfig>, addr: SocketAddr, id: usize) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("a valid DNS name");
    let tls = scoro::tls::connect(config, name, tcp).await?;
    println!(
        "client {id}: connected with {:?}",
        tls.conn()
            .protocol_version()
            .expect("the handshake is done")
    );
    let mut stream = BufReader::new(tls);
    for i in 0..3 {
        let line = format!("client {id}, line {i}\n");
        stream.write_all(line.as_bytes()).await?;
        let mut echo = String::new();
        stream.read_line(&mut echo).await?;
        assert_eq!(echo, line, "the echo is what was sent");
    }
    stream.shutdown().await?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await?;
    println!("client {id}: every line came back");
    Ok(())
}

/// Runs the server and `clients` clients, then stops the server.
#[structured]
async fn demo(clients: usize) -> io::Result<()> {
    let (server_config, client_config) = configs()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving TLS on {addr}");
    let server = CancelScope::new();
    let stop = server.handle();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            let handler = |tcp| serve_one(server_config.clone(), tcp);
            // Runs until it is cancelled, or fails.
            match server.run(serve_tcp(listener, handler)).await {
                None => Ok(()),
                Some(Err(e)) => Err(e),
                Some(Ok(never)) => match never {},
            }
        });
        nursery(async |c| -> io::Result<()> {
            for id in 0..clients {
                c.start_soon(client(client_config.clone(), addr, id));
            }
            Ok(())
        })
        .await?;
        stop.cancel();
        Ok(())
    })
    .await?;
    println!("server stopped");
    Ok(())
}

#[scoro::main]
async fn main() {
    if let Err(e) = demo(3).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examples::misbehave::{Misbehaviour, misbehave, tasks_gone};
    use scoro::tls::rustls::ClientConnection;

    #[test]
    fn clients_get_their_lines_back() {
        scoro::run(demo(5)).unwrap();
    }

    /// The bytes a client opens its handshake with (its ClientHello).
    fn client_hello(config: Arc<ClientConfig>) -> Vec<u8> {
        let name = ServerName::try_from("localhost").expect("a valid DNS name");
        let mut conn = ClientConnection::new(config, name).expect("a client connection");
        let mut hello = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut hello).expect("writing to a Vec");
        }
        hello
    }

    #[scoro::test]
    async fn misbehaving_clients_end_only_their_own_connections() {
        let (server_config, client_config) = configs().unwrap();
        let hello = client_hello(client_config.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(async {
                let handler = |tcp| serve_one(server_config.clone(), tcp);
                match serve_tcp(listener, handler).await {
                    Ok(never) => match never {},
                    Err(e) => Err::<(), io::Error>(e),
                }
            });
            nursery(async |clients| -> io::Result<()> {
                for how in Misbehaviour::ALL.into_iter().cycle().take(100) {
                    clients.start_soon(misbehave(addr, how, &hello));
                }
                Ok(())
            })
            .await?;
            // The server still serves, and keeps nothing of the misbehaving clients.
            client(client_config.clone(), addr, 0).await?;
            assert_eq!(tasks_gone("::serve_one").await?, 0);
            n.cancel();
            Ok(())
        })
        .await
        .unwrap();
    }
}
