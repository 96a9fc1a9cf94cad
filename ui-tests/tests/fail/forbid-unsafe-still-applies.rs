#![forbid(unsafe_code)]
use scoro::structured;

#[structured]
async fn read(value: &u32) -> u32 {
    let pointer: *const u32 = value;
    unsafe { *pointer }
}

fn main() {
    assert_eq!(scoro::run(read(&7)), 7);
}
