#[scoro::main(watchdog_ms = 0)]
async fn main() {}
