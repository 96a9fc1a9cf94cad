//! Compile-time behaviour of scoro's macros: `fail/` holds misuses with the exact errors users
//! see (`.stderr`, reviewed), `pass/` holds every supported shape, each built and run.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p scoro-ui-tests`, then
//! read the diff: it is user-facing text.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/fail/*.rs");
    cases.pass("tests/pass/*.rs");
}
