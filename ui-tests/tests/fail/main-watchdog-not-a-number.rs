#[scoro::main(watchdog_ms = "2s")]
async fn main() {}
