#[scoro::main(dump_tree_on = SIGINT)]
async fn main() {}
