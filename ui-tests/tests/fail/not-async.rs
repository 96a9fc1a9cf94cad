use scoro::structured;

#[structured]
fn answer() -> u32 {
    42
}

fn main() {
    answer();
}
