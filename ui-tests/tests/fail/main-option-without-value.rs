#[scoro::main(watchdog_ms)]
async fn main() {}
