use scoro::structured;

#[structured]
async fn tick() {}

#[structured]
async fn forgetful() {
    tick();
}

fn main() {
    scoro::run(forgetful());
}
