#![deny(warnings)]

use scoro::structured;
use std::fmt::Write;

#[structured]
async fn double(x: u32) -> u32 {
    x * 2
}

#[structured]
async fn in_macros() -> String {
    println!("println: {}", double(1).await);
    eprintln!("eprintln: {value}", value = double(2).await);
    assert_eq!(double(3).await, 6, "assert_eq message {}", double(4).await);
    assert!(double(5).await == 10);
    let list = vec![double(1).await, double(2).await];
    let repeated = vec![double(3).await; double(1).await as usize];
    let mut out = format!("{:?} {:?}", list, repeated);
    write!(out, " {}", double(50).await).unwrap();
    writeln!(out, " {}", matches!(double(1).await, 2)).unwrap();
    out
}

// A failing `assert!` prints the condition as the user wrote it, not the rewritten code.
#[structured]
async fn failing_assert() {
    assert!(double(5).await == 11);
}

fn main() {
    assert_eq!(scoro::run(in_macros()), "[2, 4] [6, 6] 100 true\n");
    std::panic::set_hook(Box::new(|_| {})); // keep the expected panic out of the output
    let panic = std::panic::catch_unwind(|| scoro::run(failing_assert())).unwrap_err();
    let _ = std::panic::take_hook();
    let message = match panic.downcast_ref::<&str>() {
        Some(message) => message.to_string(),
        None => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert_eq!(message, "assertion failed: double(5).await == 11");
}
