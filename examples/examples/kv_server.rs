//! A key-value server with a line protocol and a graceful shutdown on Ctrl-C.
//!
//! ```text
//! cargo run -p examples --example kv_server [PORT]     # default port: 7879
//! nc 127.0.0.1 7879
//! SET greeting hello world
//! GET greeting
//! ```
//!
//! Commands, one per line: `SET key value…`, `GET key`, `DEL key`, `QUIT`. Replies: `OK`,
//! `VALUE value…`, `NOT_FOUND`, `ERR what went wrong`, `BYE`.
//!
//! The store is a plain `RefCell<HashMap>` that every connection's handler borrows
//! (`serve_tcp(listener, |s| handle(s, &store))`): all tasks run on one thread, and a command
//! runs from start to end without an `.await`, so no other task can see it half-done.
//!
//! No client can hurt the others: a line longer than 1 KiB gets an error and the connection
//! is closed (the server never buffers more than that per client), a client silent for five
//! minutes is disconnected, and a client whose connection fails is logged and dropped.
//!
//! On Ctrl-C the server stops accepting, tells every connected client `BYE server shutting
//! down` (giving each at most a second to take it), and exits once all of them are gone. A
//! second Ctrl-C during that second ends the process at once.

use examples::lines::read_line_capped;
use scoro::io::{BufReader, Write};
use scoro::net::{TcpListener, TcpStream, serve_tcp};
use scoro::signal::wait_for_ctrl_c;
use scoro::sync::Event;
use scoro::{CancelScope, MaybeCancelled, move_on_after, nursery, structured};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::time::Duration;

/// The longest line a client may send.
const MAX_LINE: usize = 1024;

/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(300);

/// How long a client gets to take the goodbye at shutdown.
const GOODBYE: Duration = Duration::from_secs(1);

/// The data, and how many clients are connected.
#[derive(Default)]
struct Store {
    data: RefCell<HashMap<String, String>>,
    clients: Cell<usize>,
}

/// Runs one command against the store; returns the reply and whether the session ends.
fn execute(line: &str, store: &Store) -> (String, bool) {
    let mut words = line.splitn(3, ' ');
    let command = words.next().unwrap_or_default();
    let key = words.next().filter(|k| !k.is_empty());
    let rest = words.next();
    let reply = match (command, key, rest) {
        ("SET", Some(key), Some(value)) => {
            store
                .data
                .borrow_mut()
                .insert(key.to_string(), value.to_string());
            "OK".to_string()
        }
        ("GET", Some(key), None) => match store.data.borrow().get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".to_string(),
        },
        ("DEL", Some(key), None) => match store.data.borrow_mut().remove(key) {
            Some(_) => "OK".to_string(),
            None => "NOT_FOUND".to_string(),
        },
        ("QUIT", None, None) => return ("BYE\n".to_string(), true),
        ("SET" | "GET" | "DEL" | "QUIT", ..) => format!("ERR usage: {}", usage(command)),
        _ => format!("ERR unknown command {command:?}"),
    };
    (reply + "\n", false)
}

fn usage(command: &str) -> &'static str {
    match command {
        "SET" => "SET key value",
        "GET" => "GET key",
        "DEL" => "DEL key",
        _ => "QUIT",
    }
}

/// Serves one client until it quits, goes silent, misbehaves or the server shuts down.
#[structured]
async fn session(reader: &mut BufReader<TcpStream>, store: &Store) -> io::Result<()> {
    loop {
        let mut line = String::new();
        let read = move_on_after(IDLE, read_line_capped(reader, &mut line, MAX_LINE)).await;
        let (reply, done) = match read {
            None => ("ERR idle for too long\n".to_string(), true),
            Some(Ok(0)) => return Ok(()),
            Some(Ok(_)) => execute(line.trim_end(), store),
            Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                (format!("ERR {e}; closing the connection\n"), true)
            }
            Some(Err(e)) => return Err(e),
        };
        reader.get_mut().write_all(reply.as_bytes()).await?;
        if done {
            return Ok(());
        }
    }
}

/// A connection's task: runs the session, and says goodbye if the server is shutting down.
#[structured]
async fn handle(stream: TcpStream, store: &Store) -> io::Result<()> {
    store.clients.set(store.clients.get() + 1);
    let mut reader = BufReader::new(stream);
    let outcome = session(&mut reader, store).await;
    store.clients.set(store.clients.get() - 1);
    match outcome {
        Err(e) if e.is_cancel_requested() => {
            // Shutting down. The goodbye runs in a shielded scope, so that the shutdown does
            // not cancel it too, with a deadline, so that a client that does not read cannot
            // hold the shutdown up.
            let goodbye = reader.get_mut().write_all(b"BYE server shutting down\n");
            CancelScope::new()
                .with_shield(true)
                .with_timeout(GOODBYE)
                .run(goodbye)
                .await;
            Err(e)
        }
        // This client's connection failed: log it, keep serving the others.
        Err(e) => {
            eprintln!("kv_server: a connection failed: {e}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Serves clients on `listener` until `stop` is set, then shuts down gracefully.
#[structured]
async fn serve_until(listener: TcpListener, store: &Store, stop: &Event) -> io::Result<()> {
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve_tcp(listener, |s| handle(s, store)));
        stop.wait().await?;
        eprintln!(
            "kv_server: shutting down ({} clients connected)",
            store.clients.get()
        );
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::main]
async fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("PORT: {e}")))?,
        None => 7879,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("kv_server: listening on {}", listener.local_addr()?);
    let store = Store::default();
    let stop = Event::new();
    nursery(async |n| -> io::Result<()> {
        n.start_soon(async {
            wait_for_ctrl_c().await?;
            stop.set();
            io::Result::Ok(())
        });
        serve_until(listener, &store, &stop).await?;
        Ok(())
    })
    .await?;
    eprintln!("kv_server: stopped with {} keys", store.data.borrow().len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::CoroutineCall;
    use scoro::io::Read;
    use scoro::testing::wait_all_tasks_blocked;

    /// A client: sends lines, reads replies.
    struct Client {
        reader: BufReader<TcpStream>,
    }

    impl Client {
        #[structured]
        async fn connect(addr: std::net::SocketAddr) -> io::Result<Client> {
            Ok(Client {
                reader: BufReader::new(TcpStream::connect(addr).await?),
            })
        }

        #[structured]
        async fn send(&mut self, line: &str) -> io::Result<String> {
            self.reader
                .get_mut()
                .write_all(format!("{line}\n").as_bytes())
                .await?;
            self.reply().await
        }

        #[structured]
        async fn reply(&mut self) -> io::Result<String> {
            let mut reply = String::new();
            self.reader.read_line(&mut reply).await?;
            Ok(reply.trim_end().to_string())
        }

        #[structured]
        async fn is_closed(&mut self) -> io::Result<bool> {
            let mut rest = Vec::new();
            self.reader.read_to_end(&mut rest).await?;
            Ok(rest.is_empty())
        }
    }

    /// Serves on a free port until `client` (given the address) returns, then shuts the
    /// server down.
    #[structured]
    async fn with_server<F>(
        store: &Store,
        client: impl FnOnce(std::net::SocketAddr) -> CoroutineCall<F>,
    ) -> io::Result<()>
    where
        F: std::future::Future<Output = io::Result<()>>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = Event::new();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(serve_until(listener, store, &stop));
            client(addr).await?;
            stop.set();
            Ok(())
        })
        .await?;
        Ok(())
    }

    #[structured]
    async fn talk(addr: std::net::SocketAddr) -> io::Result<()> {
        let mut c = Client::connect(addr).await?;
        assert_eq!(c.send("GET greeting").await?, "NOT_FOUND");
        assert_eq!(c.send("SET greeting hello world").await?, "OK");
        assert_eq!(c.send("GET greeting").await?, "VALUE hello world");
        assert_eq!(c.send("SET greeting").await?, "ERR usage: SET key value");
        assert_eq!(c.send("FROB x").await?, "ERR unknown command \"FROB\"");
        assert_eq!(c.send("DEL greeting").await?, "OK");
        assert_eq!(c.send("DEL greeting").await?, "NOT_FOUND");
        assert_eq!(c.send("SET k v").await?, "OK");
        assert_eq!(c.send("QUIT").await?, "BYE");
        assert!(c.is_closed().await?);
        Ok(())
    }

    #[scoro::test]
    async fn commands_and_errors() -> io::Result<()> {
        let store = Store::default();
        with_server(&store, talk).await?;
        assert_eq!(store.data.borrow().get("k").map(String::as_str), Some("v"));
        Ok(())
    }

    #[structured]
    async fn flood(addr: std::net::SocketAddr) -> io::Result<()> {
        let mut good = Client::connect(addr).await?;
        let mut bad = Client::connect(addr).await?;
        assert_eq!(good.send("SET a 1").await?, "OK");
        let reply = bad.send(&"x".repeat(MAX_LINE * 3)).await?;
        assert_eq!(
            reply,
            format!("ERR sent a line longer than {MAX_LINE} bytes; closing the connection")
        );
        // The server closes with unread bytes pending, which may reset the connection.
        assert!(bad.is_closed().await.unwrap_or(true));
        assert_eq!(good.send("GET a").await?, "VALUE 1");
        Ok(())
    }

    // One client's endless line ends that client only; another one is served meanwhile.
    #[scoro::test]
    async fn an_oversized_line_closes_only_that_connection() -> io::Result<()> {
        let store = Store::default();
        with_server(&store, flood).await?;
        Ok(())
    }

    #[structured]
    async fn stay_silent(addr: std::net::SocketAddr) -> io::Result<()> {
        let mut silent = Client::connect(addr).await?;
        let start = scoro::current_time();
        assert_eq!(silent.reply().await?, "ERR idle for too long");
        assert_eq!(scoro::current_time() - start, IDLE);
        assert!(silent.is_closed().await?);
        Ok(())
    }

    // A silent client is disconnected after five minutes (of mock time).
    #[scoro::test(autojump)]
    async fn a_silent_client_is_disconnected() -> io::Result<()> {
        let store = Store::default();
        with_server(&store, stay_silent).await?;
        Ok(())
    }

    // At shutdown every connected client gets the goodbye, the server waits for all of them,
    // and what they stored is kept.
    #[scoro::test]
    async fn shutdown_says_goodbye_to_everybody() -> io::Result<()> {
        let store = Store::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = Event::new();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(serve_until(listener, &store, &stop));
            let mut clients = Vec::new();
            for i in 0..3 {
                let mut c = Client::connect(addr).await?;
                assert_eq!(c.send(&format!("SET k{i} {i}")).await?, "OK");
                clients.push(c);
            }
            wait_all_tasks_blocked().await?;
            assert_eq!(store.clients.get(), 3);
            stop.set();
            for mut c in clients {
                assert_eq!(c.reply().await?, "BYE server shutting down");
                assert!(c.is_closed().await?);
            }
            Ok(())
        })
        .await?;
        assert_eq!(store.clients.get(), 0);
        assert_eq!(store.data.borrow().len(), 3);
        Ok(())
    }

    // A client that never reads cannot hold the shutdown up for more than the goodbye's
    // deadline.
    #[scoro::test(autojump)]
    async fn a_client_that_does_not_read_cannot_hold_the_shutdown_up() -> io::Result<()> {
        let store = Store::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = Event::new();
        let stopped_at = Cell::new(None);
        let _stuck = nursery(async |n| -> io::Result<TcpStream> {
            n.start_soon(serve_until(listener, &store, &stop));
            let mut stuck = TcpStream::connect(addr).await?;
            // Ask for a 1 KiB value 20,000 times and never read the replies: more than the
            // socket buffers hold, so the server's writes to this client get stuck.
            let value = "v".repeat(MAX_LINE - 10);
            stuck
                .write_all(format!("SET big {value}\n").as_bytes())
                .await?;
            for _ in 0..20_000 {
                let sent = move_on_after(Duration::from_millis(1), stuck.write_all(b"GET big\n"));
                if sent.await.is_none() {
                    break; // the server stopped reading: it is stuck writing
                }
            }
            wait_all_tasks_blocked().await?;
            stopped_at.set(Some(scoro::current_time()));
            stop.set();
            Ok(stuck)
        })
        .await
        .map_err(io::Error::from)?;
        let took = scoro::current_time() - stopped_at.get().unwrap();
        assert_eq!(took, GOODBYE);
        assert_eq!(store.clients.get(), 0);
        Ok(())
    }
}
