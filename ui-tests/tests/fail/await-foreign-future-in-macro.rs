use scoro::structured;

#[structured]
async fn show() {
    println!("{}", std::future::ready(42).await);
}

fn main() {
    scoro::run(show());
}
