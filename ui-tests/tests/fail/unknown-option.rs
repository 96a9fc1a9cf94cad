use scoro::structured;

#[structured(send)]
async fn answer() -> u32 {
    42
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
