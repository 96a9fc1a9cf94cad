#[scoro::test]
async fn default_is_zero<T: Default + PartialEq + From<u8>>() {
    assert!(T::default() == T::from(0));
}

fn main() {}
