use scoro::structured;

fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[structured]
async fn careless() {
    parse("12");
}

fn main() {
    scoro::run(careless());
}
