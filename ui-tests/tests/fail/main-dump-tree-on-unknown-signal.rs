#[scoro::main(dump_tree_on = SIGKILL)]
async fn main() {}
