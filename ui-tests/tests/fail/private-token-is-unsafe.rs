use scoro::structured;

#[structured]
async fn answer() -> u32 {
    42
}

fn main() {
    // Only macro output may take the future out of a call.
    let token = scoro::__private::token();
    let _future = scoro::__private::Awaitable::__scoro_await(answer(), token);
}
