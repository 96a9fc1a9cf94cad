use scoro::structured;

#[structured]
async fn answer() -> u32 {
    let add = async |a: u32, b: u32| a + b;
    add(40, 2).await
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
