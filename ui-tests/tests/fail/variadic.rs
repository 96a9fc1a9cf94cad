use scoro::structured;

#[structured]
async fn sum(first: u32, rest: ...) -> u32 {
    first
}

fn main() {
    assert_eq!(scoro::run(sum(1)), 1);
}
