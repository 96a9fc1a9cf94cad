use scoro::structured;

#[structured]
static ANSWER: u32 = 42;

fn main() {
    assert_eq!(ANSWER, 42);
}
