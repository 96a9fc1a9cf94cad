use scoro::structured;

#[structured(boxed, boxed)]
async fn answer() -> u32 {
    42
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
