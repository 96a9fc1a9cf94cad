//! The body is checked against the declared return type, as in an `async fn`.
#![deny(warnings)]

use scoro::structured;
use std::error::Error;
use std::fmt::Display;

#[structured]
async fn boxed(flag: bool) -> Box<dyn Display> {
    if flag {
        return Box::new("early");
    }
    Box::new(42)
}

#[structured]
async fn slice() -> &'static [u8] {
    &[1, 2, 3]
}

#[structured]
async fn errors(text: &str) -> Result<u32, Box<dyn Error>> {
    let number: u32 = text.parse()?;
    if number == 0 {
        return Err("zero".into());
    }
    Ok(number)
}

#[structured]
async fn opaque() -> impl Display {
    "opaque"
}

// `impl Trait` parts of the type are left to inference; the rest still guides `?`.
#[structured]
async fn partly_opaque(text: &str) -> Result<impl Display, String> {
    let number: u32 = text.parse().map_err(|_| format!("not a number: {text}"))?;
    Ok(number + 1)
}

// A body that never returns gives no `unreachable_code` warning.
#[structured]
#[allow(dead_code)]
async fn unfinished() -> u32 {
    todo!()
}

#[structured]
async fn optional() -> Option<Box<dyn Display>> {
    Some(Box::new(1))
}

fn main() {
    assert_eq!(scoro::run(boxed(true)).to_string(), "early");
    assert_eq!(scoro::run(boxed(false)).to_string(), "42");
    assert_eq!(scoro::run(slice()), [1, 2, 3]);
    assert_eq!(scoro::run(errors("7")).ok(), Some(7));
    assert!(scoro::run(errors("x")).is_err());
    assert_eq!(scoro::run(errors("0")).unwrap_err().to_string(), "zero");
    assert_eq!(scoro::run(opaque()).to_string(), "opaque");
    assert_eq!(
        scoro::run(partly_opaque("1")).map(|d| d.to_string()),
        Ok("2".to_owned())
    );
    assert!(scoro::run(partly_opaque("x")).is_err());
    assert_eq!(
        scoro::run(optional()).map(|d| d.to_string()),
        Some("1".to_owned())
    );
}
