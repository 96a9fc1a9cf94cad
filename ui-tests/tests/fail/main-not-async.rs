#[scoro::main]
fn main() {}
