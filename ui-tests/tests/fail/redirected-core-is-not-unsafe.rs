// A crate root can redirect every path the macro emits (`::core` here). The generated code
// holds no `unsafe` block, so the user's own `module_path!` stays under the crate's rules: the
// raw-pointer read below needs an `unsafe` block of its own, which `forbid(unsafe_code)` refuses.
#![forbid(unsafe_code)]
extern crate self as core;
pub mod future {
    pub use std::future::*;
}
pub mod option {
    pub use std::option::*;
}
pub mod any {
    pub use std::any::*;
}
pub mod prelude {
    pub use std::prelude::*;
}
pub mod panic {
    pub use std::panic::*;
}
pub mod fmt {
    pub use std::fmt::*;
}
pub use std::{concat, stringify};

#[macro_export]
macro_rules! module_path {
    () => {{
        let p: *const u64 = std::ptr::null::<u64>().wrapping_add(0x10);
        let v: u64 = *p;
        if v == 0 { "x" } else { "y" }
    }};
}

#[scoro::structured]
async fn f() -> u32 {
    1
}

fn main() {
    println!("{}", scoro::run(f()));
}
