#[scoro::main]
async fn main(verbose: bool) {
    assert!(!verbose);
}
