//! Tests in `tests/` prove that `#[structured]`, `#[scoro::main]` and `#[scoro::test]` work in
//! an edition-2021 crate. The generated return type `CoroutineCall<impl Future>` uses the
//! macro crate's edition-2024 capture rules, so it captures elided lifetimes here too.
