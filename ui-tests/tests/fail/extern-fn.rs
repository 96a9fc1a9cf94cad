use scoro::structured;

#[structured]
async extern "C" fn answer() -> u32 {
    42
}

fn main() {
    assert_eq!(scoro::run(answer()), 42);
}
