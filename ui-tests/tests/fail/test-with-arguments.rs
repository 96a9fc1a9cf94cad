#[scoro::test]
async fn adds(left: u32, right: u32) {
    assert_eq!(left + right, 2);
}

fn main() {}
