//! Doc comments and other attributes on a structured function reach the generated one.
#![deny(warnings)]
#![deny(missing_docs)]

use scoro::structured;

/// Documented: without this doc comment on the generated function, `missing_docs` fails.
#[structured]
pub async fn documented() -> u32 {
    1
}

/// Two definitions, one removed by `cfg`: if `cfg` were dropped, they would clash.
#[structured]
#[cfg(test)]
pub async fn configured() -> u32 {
    1
}

/// The one that stays.
#[structured]
#[cfg(not(test))]
#[inline]
pub async fn configured() -> u32 {
    2
}

#[structured]
async fn inner_attribute() -> u32 {
    #![allow(unused_variables)]
    let unused = 3;
    4
}

fn main() {
    assert_eq!(scoro::run(documented()) + scoro::run(configured()), 3);
    assert_eq!(scoro::run(inner_attribute()), 4);
}
