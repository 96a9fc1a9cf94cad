use scoro::structured;

#[structured]
struct Server {
    port: u16,
}

fn main() {
    let server = Server { port: 80 };
    assert_eq!(server.port, 80);
}
