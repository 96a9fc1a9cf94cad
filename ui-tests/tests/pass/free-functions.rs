#![deny(warnings)]

use scoro::structured;

#[structured]
async fn nothing() {}

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

#[structured]
pub(crate) async fn quadruple(x: u32) -> u32 {
    nothing().await;
    double(double(x).await).await
}

#[structured]
async fn early_return(x: u32) -> Result<u32, String> {
    if x == 0 {
        return Err("zero".to_owned());
    }
    let parsed: u32 = "2".parse().map_err(|_| "not a number".to_owned())?;
    Ok(x * parsed)
}

fn main() {
    scoro::run(nothing());
    assert_eq!(scoro::run(quadruple(3)), 12);
    assert_eq!(scoro::run(early_return(4)), Ok(8));
    assert_eq!(scoro::run(early_return(0)), Err("zero".to_owned()));
}
