#[scoro::main(dump_tree_on = 10)]
async fn main() {}
