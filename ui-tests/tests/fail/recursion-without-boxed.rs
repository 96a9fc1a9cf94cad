use scoro::structured;

#[structured]
async fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1).await + fib(n - 2).await
    }
}

fn main() {
    assert_eq!(scoro::run(fib(10)), 55);
}
