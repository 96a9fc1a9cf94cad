#[scoro::main(dump_tree_on = "SIGUSR1")]
async fn main() {}
