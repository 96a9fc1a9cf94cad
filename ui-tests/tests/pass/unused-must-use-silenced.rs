//! Unused `#[must_use]` values are errors in structured bodies; `let _ =` drops one on purpose.
#![deny(warnings)]

use scoro::structured;

fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

#[structured]
async fn tolerant() -> u32 {
    let _ = parse("not a number");
    #[allow(unused_must_use)]
    {
        parse("1");
    }
    7
}

fn main() {
    assert_eq!(scoro::run(tolerant()), 7);
}
