use scoro::structured;

struct Counter(u32);

#[structured]
impl Counter {
    fn get(&self) -> u32 {
        self.0
    }
}

fn main() {
    assert_eq!(Counter(1).get(), 1);
}
