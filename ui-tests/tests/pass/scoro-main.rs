#![deny(warnings)]

use scoro::structured;

#[structured]
async fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

/// The entry point, run on a scoro runtime.
#[scoro::main]
async fn main() -> Result<(), std::num::ParseIntError> {
    let value = parse("41").await? + 1;
    assert_eq!(value, 42);
    assert!(parse("x").await.is_err());
    Ok(())
}
