use scoro::structured;

#[structured]
async fn answer() -> u32 {
    "forty-two"
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
