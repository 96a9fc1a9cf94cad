//! A chat server: every line a client sends goes to everybody in the room.
//!
//! ```text
//! cargo run -p examples --example chat_server [PORT]     # default port: 7878
//! nc 127.0.0.1 7878                                      # in a few other terminals
//! kill -USR1 <pid>                                       # prints the task tree to stderr
//! ```
//!
//! One hub task owns the room: connections send it events through a channel, and it
//! broadcasts each message through one bounded channel per client. A client too slow to keep
//! up with the room is disconnected instead of slowing everybody down. Each connection is a
//! small nursery of its own: one task reads the client's lines while another writes the
//! room's messages to it. Ctrl-C shuts everything down cleanly.
//!
//! No single client can hurt the room: one that fails is logged and dropped, one that does
//! not give its name within a minute is dropped, a line longer than 4 KiB ends its
//! connection (the server never buffers more than that for anybody), and one that stops
//! reading is disconnected once its backlog is full or a write to it has not gone through
//! for ten seconds.

use examples::lines::read_line_capped;
use scoro::channel::{Receiver, SendError, Sender, TrySendError, channel};
use scoro::io::{BufReader, Write};
use scoro::net::{ReadHalf, TcpListener, TcpStream, WriteHalf, serve_tcp};
use scoro::signal::wait_for_ctrl_c;
use scoro::{CancelRequested, MaybeCancelled, fail_after, nursery, structured};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

/// How many messages may wait for a client before it counts as too slow.
const BACKLOG: usize = 64;

/// The longest line a client may send.
const MAX_LINE: usize = 4096;

/// How long a new client has to say its name.
const NAME_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a write to a client may take before it counts as too slow.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one line of at most [`MAX_LINE`] bytes (see [`read_line_capped`]).
#[structured]
async fn read_line(reader: &mut BufReader<ReadHalf<'_>>, line: &mut String) -> io::Result<usize> {
    read_line_capped(reader, line, MAX_LINE).await
}

/// What connections tell the hub.
enum Event {
    Joined {
        id: u64,
        name: String,
        outbox: Sender<Rc<str>>,
    },
    Said {
        id: u64,
        text: String,
    },
    Left {
        id: u64,
    },
}

struct Member {
    id: u64,
    name: String,
    outbox: Sender<Rc<str>>,
}

/// Sends `line` to every member; drops the ones whose outbox is full.
fn broadcast(members: &mut Vec<Member>, line: &str) {
    let line: Rc<str> = Rc::from(line);
    members.retain(|m| match m.outbox.try_send(line.clone()) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            println!("{} is too slow: disconnecting", m.name);
            m.outbox.close();
            false
        }
        // Its connection is gone; `Left` is on its way.
        Err(_) => false,
    });
}

/// Owns the room: applies events in order and broadcasts the result.
#[structured]
async fn hub(events: &Receiver<Event>) -> Result<(), CancelRequested> {
    let mut members: Vec<Member> = Vec::new();
    while let Some(event) = events.next().await? {
        match event {
            Event::Joined { id, name, outbox } => {
                members.push(Member {
                    id,
                    name: name.clone(),
                    outbox,
                });
                let line = format!("* {name} joined ({} here)\n", members.len());
                broadcast(&mut members, &line);
            }
            Event::Said { id, text } => {
                if let Some(m) = members.iter().find(|m| m.id == id) {
                    let line = format!("[{}] {}\n", m.name, text.trim_end());
                    broadcast(&mut members, &line);
                }
            }
            Event::Left { id } => {
                if let Some(i) = members.iter().position(|m| m.id == id) {
                    let m = members.remove(i);
                    broadcast(&mut members, &format!("* {} left\n", m.name));
                }
            }
        }
    }
    Ok(())
}

/// Hands an event to the hub; an error means the hub is gone (shutdown).
#[structured]
async fn tell(hub: &Sender<Event>, event: Event) -> io::Result<()> {
    hub.send(event).await.map_err(|e| match e {
        SendError::Cancelled(_, c) => io::Error::from(c),
        _ => io::Error::other("the chat room is closed"),
    })
}

/// Writes the room's messages to one client, until the hub closes its outbox (the client was
/// too slow: say goodbye).
#[structured]
async fn relay_room(inbox: &Receiver<Rc<str>>, writer: &mut WriteHalf<'_>) -> io::Result<()> {
    while let Some(line) = inbox.next().await? {
        fail_after(WRITE_TIMEOUT, writer.write_all(line.as_bytes())).await??;
    }
    let bye = b"you were too slow for this room; bye\n";
    fail_after(WRITE_TIMEOUT, writer.write_all(bye)).await?
}

/// One client: asks for a name, then relays lines both ways until either side stops.
#[structured]
async fn connection(mut stream: TcpStream, id: u64, hub: &Sender<Event>) -> io::Result<()> {
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::new(reader);
    fail_after(
        WRITE_TIMEOUT,
        writer.write_all(b"welcome! what is your name?\n"),
    )
    .await??;
    let mut name = String::new();
    if fail_after(NAME_TIMEOUT, read_line(&mut reader, &mut name)).await?? == 0 {
        return Ok(());
    }
    let name = match name.trim() {
        "" => format!("guest-{id}"),
        n => n.to_string(),
    };
    let (outbox, inbox) = channel::<Rc<str>>(BACKLOG);
    tell(hub, Event::Joined { id, name, outbox }).await?;
    let outcome = nursery(async |n| -> io::Result<()> {
        // The writer: the room's messages, until the hub closes our outbox.
        n.start_soon(relay_room(&inbox, &mut writer));
        // The reader: the client's lines, until it hangs up.
        let mut line = String::new();
        loop {
            line.clear();
            if read_line(&mut reader, &mut line).await? == 0 {
                break;
            }
            tell(
                hub,
                Event::Said {
                    id,
                    text: line.clone(),
                },
            )
            .await?;
        }
        n.cancel();
        Ok(())
    })
    .await;
    // Leaving is announced however the connection ended (unless the hub itself is gone).
    let _ = hub.try_send(Event::Left { id });
    outcome.map_err(io::Error::from)
}

/// One client's connection, whose failure is logged: it must not bring the room down.
#[structured]
async fn client(stream: TcpStream, id: u64, events: &Sender<Event>) -> io::Result<()> {
    let peer = stream.peer_addr();
    match connection(stream, id, events).await {
        Err(e) if !e.is_cancel_requested() => {
            println!("client {id} ({peer:?}): {e}");
            Ok(())
        }
        other => other,
    }
}

/// Runs the room on `listener` until cancelled.
#[structured]
async fn serve(listener: TcpListener) -> io::Result<()> {
    let (events, hub_inbox) = channel::<Event>(256);
    let next_id = Cell::new(0);
    nursery(async |n| -> io::Result<()> {
        n.start_soon(hub(&hub_inbox));
        let handler = |stream: TcpStream| {
            next_id.set(next_id.get() + 1);
            client(stream, next_id.get(), &events)
        };
        match serve_tcp(listener, handler).await {
            Ok(never) => match never {},
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(io::Error::from)
}

#[scoro::main(dump_tree_on = SIGUSR1)]
async fn main() -> io::Result<()> {
    let port = examples::port_arg(7878)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!(
        "chat server on {addr}; join with `nc 127.0.0.1 {}`; Ctrl-C stops it",
        addr.port()
    );
    nursery(async |n| -> io::Result<()> {
        n.start_soon(serve(listener));
        wait_for_ctrl_c().await?;
        println!("Ctrl-C: closing the room");
        n.cancel();
        Ok(())
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoro::CancelScope;
    use scoro::io::Read;

    /// Reads one line from a client's side of the chat.
    #[structured]
    async fn line(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        Ok(line)
    }

    /// Runs the room until `server` is cancelled (which must be how it ends).
    #[structured]
    async fn room(listener: TcpListener, server: CancelScope) -> io::Result<()> {
        assert!(server.run(serve(listener)).await.is_none());
        Ok(())
    }

    #[structured]
    async fn join(addr: std::net::SocketAddr, name: &str) -> io::Result<BufReader<TcpStream>> {
        let mut client = BufReader::new(TcpStream::connect(addr).await?);
        assert_eq!(line(&mut client).await?, "welcome! what is your name?\n");
        client.write_all(format!("{name}\n").as_bytes()).await?;
        Ok(client)
    }

    #[structured]
    async fn two_clients_chat() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = CancelScope::new();
        let stop = server.handle();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(room(listener, server));
            let mut bob = join(addr, "bob").await?;
            assert_eq!(line(&mut bob).await?, "* bob joined (1 here)\n");
            let mut alice = join(addr, "alice").await?;
            assert_eq!(line(&mut alice).await?, "* alice joined (2 here)\n");
            assert_eq!(line(&mut bob).await?, "* alice joined (2 here)\n");
            alice.write_all(b"hello, bob\n").await?;
            assert_eq!(line(&mut bob).await?, "[alice] hello, bob\n");
            assert_eq!(line(&mut alice).await?, "[alice] hello, bob\n");
            drop(alice);
            assert_eq!(line(&mut bob).await?, "* alice left\n");
            stop.cancel();
            Ok(())
        })
        .await
        .map_err(io::Error::from)
    }

    #[test]
    fn two_clients_chat_and_the_server_stops() {
        scoro::run(two_clients_chat()).unwrap();
    }

    /// Misbehaving clients, one after the other, while bob stays in the room: each is
    /// dropped, and bob still chats. (A client that stops reading is dropped once its backlog
    /// is full; `broadcast` does that.)
    #[structured]
    async fn misbehaving_clients() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = CancelScope::new();
        let stop = server.handle();
        nursery(async |n| -> io::Result<()> {
            n.start_soon(room(listener, server));
            let mut bob = join(addr, "bob").await?;
            assert_eq!(line(&mut bob).await?, "* bob joined (1 here)\n");
            // A line longer than the cap: that connection ends, nobody else notices.
            let mut flooder = join(addr, "flood").await?;
            assert_eq!(line(&mut bob).await?, "* flood joined (2 here)\n");
            let _ = flooder.write_all(&vec![b'x'; MAX_LINE * 4]).await;
            assert_eq!(line(&mut bob).await?, "* flood left\n");
            // A client that never says its name is dropped after `NAME_TIMEOUT`.
            let mut silent = TcpStream::connect(addr).await?;
            let mut rest = Vec::new();
            let _ = silent.read_to_end(&mut rest).await;
            assert_eq!(rest, b"welcome! what is your name?\n");
            // Bob still chats.
            bob.write_all(b"still here\n").await?;
            assert_eq!(line(&mut bob).await?, "[bob] still here\n");
            stop.cancel();
            Ok(())
        })
        .await
        .map_err(io::Error::from)
    }

    #[test]
    fn misbehaving_clients_are_dropped_and_the_room_goes_on() {
        // The mock clock jumps over the name timeout once every task has waited 50 ms.
        let mut rt = scoro::Builder::new()
            .clock(scoro::testing::MockClock::autojump(
                std::time::Duration::from_millis(50),
            ))
            .build()
            .unwrap();
        rt.run(misbehaving_clients()).unwrap();
    }
}
