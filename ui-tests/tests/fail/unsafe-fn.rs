use scoro::structured;

#[structured]
async unsafe fn read(pointer: *const u32) -> u32 {
    unsafe { *pointer }
}

fn main() {
    let value = 7;
    assert_eq!(scoro::run(unsafe { read(&value) }), 7);
}
