use scoro::structured;

#[structured]
async fn answer() -> u32 {
    42
}

async fn plain() -> u32 {
    answer().await
}

fn main() {
    drop(plain());
}
