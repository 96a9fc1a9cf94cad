//! The `echo_server` example as a user runs it: a separate process, served over loopback,
//! stopped with Ctrl-C. No single client, however it misbehaves, keeps it from serving the
//! next one.

use examples::soak::{self, Client, Server};
use std::io::{Read, Write};
use std::time::Duration;

fn ping(server: &Server) -> std::net::TcpStream {
    let mut client = std::net::TcpStream::connect(server.addr()).expect("connect");
    // A server that stopped serving fails the test instead of hanging it.
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    client.write_all(b"ping").expect("send");
    let mut back = [0; 4];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"ping");
    client
}

#[test]
fn every_kind_of_misbehaving_client_leaves_the_server_serving() {
    let binary = soak::find_server().expect("the echo server binary");
    let mut server = Server::start(&binary, 1).expect("the server starts");
    let kinds = [
        Client::ResetAtOnce,
        Client::Reset,
        Client::HalfClose,
        Client::Idle,
        Client::NonReader,
        Client::Trickle,
        Client::Echo,
    ];
    for (seed, kind) in kinds.into_iter().enumerate() {
        if let Err(fault) = soak::run_one(kind, server.addr(), 1, seed as u64) {
            panic!("{kind:?}: {fault}");
        }
        assert!(
            server.exited().unwrap().is_none(),
            "the server died after a {kind:?} client"
        );
        drop(ping(&server));
    }
    server
        .stop(Duration::from_secs(10))
        .expect("the server stops");
}

#[test]
fn ctrl_c_says_goodbye_to_connected_clients_and_exits_cleanly() {
    let binary = soak::find_server().expect("the echo server binary");
    let server = Server::start(&binary, 60).expect("the server starts");
    let mut client = ping(&server);
    let (status, _) = server
        .stop(Duration::from_secs(10))
        .expect("the server stops");
    assert!(status.success(), "exit status {status}");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("the goodbye");
    assert_eq!(rest, b"server shutting down, goodbye\n");
}

// The server's descriptor limit is lowered to 32 and 100 clients connect at once: accepting
// fails with EMFILE while they are all there (the server backs off and retries instead of
// ending), and once they leave it serves again.
#[test]
fn the_server_serves_again_after_running_out_of_descriptors() {
    let binary = soak::find_server().expect("the echo server binary");
    let mut server = Server::start_limited(&binary, 60, Some(32)).expect("the server starts");
    let storm: Vec<std::net::TcpStream> = (0..100)
        .map(|_| std::net::TcpStream::connect(server.addr()).expect("connect (backlog)"))
        .collect();
    // Let the server hit the limit and retry a few times.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.exited().unwrap().is_none(),
        "the server died of EMFILE"
    );
    drop(storm);
    // Served within a few back-off periods once the descriptors are free again.
    let mut client = ping(&server);
    client.write_all(b"again").expect("send");
    let mut back = [0; 5];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"again");
    drop(client);
    server
        .stop(Duration::from_secs(10))
        .expect("the server stops");
}
