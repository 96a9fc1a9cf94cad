use scoro::structured;

#[structured]
async fn answer() -> u32 {
    std::future::ready(42).await
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
