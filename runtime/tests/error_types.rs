//! The error story a new user meets: `?` between a nursery's `ErrorGroup` and a function's
//! own error type in both directions, an error enum with the documented impls, error types
//! holding `'static` borrows with children that borrow arguments, and timeouts around calls
//! whose output cannot carry a cancellation (`cancellable`).

use scoro::{
    CancelReason, CancelRequested, ErrorGroup, MaybeCancelled, TooSlow, cancellable, fail_after,
    move_on_after, nursery, structured,
};
use std::error::Error;
use std::io;
use std::time::Duration;

// ---- `From<E> for ErrorGroup<E>`: `?` on a single error in a function returning a group ----

#[structured]
async fn bind_twice() -> Result<(), ErrorGroup<io::Error>> {
    let first = scoro::net::TcpListener::bind("127.0.0.1:0").await?;
    let taken = first.local_addr()?;
    // The same address again: the bind fails, and `?` makes a group of one.
    scoro::net::TcpListener::bind(taken).await?;
    Ok(())
}

#[test]
fn question_mark_turns_a_single_error_into_a_group_of_one() {
    let group = scoro::run(bind_twice()).unwrap_err();
    assert_eq!(group.len(), 1);
    assert_eq!(group.first().kind(), io::ErrorKind::AddrInUse);
}

// ---- an enum with the three documented impls ----

#[derive(Debug)]
enum AppError {
    Cancelled(#[allow(dead_code, reason = "shown by Debug")] CancelRequested),
    Bad(u32),
    Many(ErrorGroup<AppError>),
}

impl From<CancelRequested> for AppError {
    fn from(c: CancelRequested) -> Self {
        AppError::Cancelled(c)
    }
}

impl From<ErrorGroup<AppError>> for AppError {
    fn from(group: ErrorGroup<AppError>) -> Self {
        if group.len() == 1 {
            group.into_first()
        } else {
            AppError::Many(group)
        }
    }
}

impl MaybeCancelled for AppError {
    fn is_cancel_requested(&self) -> bool {
        match self {
            AppError::Cancelled(_) => true,
            AppError::Bad(_) => false,
            AppError::Many(group) => group.is_cancel_requested(),
        }
    }
}

#[structured]
async fn step(input: &[u32], i: usize) -> Result<(), AppError> {
    scoro::sleep(Duration::from_secs(u64::from(input[i]))).await?;
    if input[i] == 0 {
        return Err(AppError::Bad(i as u32));
    }
    Ok(())
}

#[structured]
async fn all_steps(input: &[u32]) -> Result<(), AppError> {
    nursery(async |n| -> Result<(), AppError> {
        for i in 0..input.len() {
            n.start_soon(step(input, i));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

#[scoro::test(autojump)]
async fn an_enum_with_the_documented_impls_keeps_errors_and_recognises_cancellation()
-> Result<(), AppError> {
    // Two real errors at the same moment: both kept, in a `Many`.
    let two = all_steps(&[0, 0, 5]).await;
    assert!(
        matches!(&two, Err(AppError::Many(g)) if g.len() == 2 && !g.is_cancel_requested()),
        "{two:?}"
    );
    // One real error: comes back as itself.
    assert!(matches!(all_steps(&[3, 0]).await, Err(AppError::Bad(1))));
    // A timeout's cancellation travels through `?` as `AppError` and is recognised.
    assert!(
        move_on_after(Duration::from_secs(2), all_steps(&[5, 9]))
            .await
            .is_none()
    );
    // No error, no timeout.
    assert!(matches!(
        move_on_after(Duration::from_secs(20), all_steps(&[5, 9])).await,
        Some(Ok(()))
    ));
    Ok(())
}

// ---- error types with a `'static` borrow, children borrowing arguments ----
//
// A nursery whose error type holds a `'static` lifetime (a boxed error is
// `Box<dyn Error + Send + Sync + 'static>`, `&'static str`) used to reject children that
// borrow the enclosing function's arguments ("`'1` must outlive `'static`"): the compiler
// could only bound the nursery's `'scope` by `'static` when proving the borrow lives long
// enough. `Nursery`'s `E: 'env` bound gives it `'env`.

type BoxError = Box<dyn Error + Send + Sync>;

#[structured]
async fn check(key: &str, ms: u64) -> Result<(), BoxError> {
    scoro::sleep(Duration::from_millis(ms)).await?;
    if key.is_empty() {
        Err("empty key".into())
    } else {
        Ok(())
    }
}

#[structured]
async fn check_both(a: &str, b: &str) -> Result<(), BoxError> {
    nursery(async |n| -> Result<(), BoxError> {
        n.start_soon(check(a, 10));
        n.start_soon(check(b, 20));
        Ok(())
    })
    .await?;
    Ok(())
}

#[structured]
async fn first_static_str(words: &[&str]) -> Result<(), ErrorGroup<&'static str>> {
    nursery(async |n| -> Result<(), &'static str> {
        for w in words {
            n.start_soon(async move {
                if w.is_empty() {
                    Err("an empty word")
                } else {
                    Ok(())
                }
            });
        }
        Ok(())
    })
    .await
}

#[scoro::test(autojump)]
async fn errors_with_static_lifetimes_allow_children_that_borrow() -> Result<(), BoxError> {
    check_both("a", "b").await?;
    assert_eq!(
        check_both("a", "").await.unwrap_err().to_string(),
        "empty key"
    );
    assert!(
        move_on_after(Duration::from_millis(15), check_both("a", "b"))
            .await
            .is_none()
    );
    let words = [String::from("x"), String::new()];
    let borrowed: Vec<&str> = words.iter().map(String::as_str).collect();
    assert_eq!(
        first_static_str(&borrowed).await.unwrap_err().into_first(),
        "an empty word"
    );
    Ok(())
}

// ---- `cancellable`: timeouts around calls whose output cannot carry a cancellation ----

/// Counts one step a second; a failed checkpoint ends the count with what it has.
#[structured]
async fn count(n: u32, steps: &std::cell::Cell<u32>) -> u32 {
    for i in 0..n {
        if scoro::sleep(Duration::from_secs(1)).await.is_err() {
            return i;
        }
        steps.set(steps.get() + 1);
    }
    n
}

#[scoro::test(autojump)]
async fn cancellable_puts_a_timeout_around_any_output_type() -> Result<(), CancelRequested> {
    let steps = std::cell::Cell::new(0);
    // Finishes in time: the value comes through.
    let fast = move_on_after(Duration::from_secs(10), cancellable(count(3, &steps))).await;
    assert_eq!(fast, Some(Ok(3)));
    // Cut off: the body saw its checkpoint fail after 2 steps and returned; its value is
    // dropped and the scope caught the cancellation.
    steps.set(0);
    let cut = move_on_after(Duration::from_millis(2500), cancellable(count(10, &steps))).await;
    assert_eq!(cut, None);
    assert_eq!(steps.get(), 2);
    // fail_after: a timeout is an error.
    let failed = fail_after(Duration::from_millis(500), cancellable(count(10, &steps))).await;
    assert_eq!(failed, Err(TooSlow));
    // An enclosing scope's cancellation is not caught by the inner one: it comes out as
    // `Some(Err(c))`, for the enclosing scope to catch.
    let scope = scoro::CancelScope::new();
    let handle = scope.handle();
    let outer = scope
        .run(async {
            handle.cancel();
            move_on_after(Duration::from_secs(60), cancellable(count(10, &steps))).await
        })
        .await;
    assert_eq!(outer, None);
    assert!(handle.cancelled_caught());
    Ok(())
}

#[structured]
async fn inner_sees_outer(steps: &std::cell::Cell<u32>) -> Option<Result<u32, CancelRequested>> {
    move_on_after(Duration::from_secs(60), cancellable(count(10, steps))).await
}

#[scoro::test]
async fn cancellable_passes_an_enclosing_cancellation_on() {
    let steps = std::cell::Cell::new(0);
    let seen = std::cell::Cell::new(None);
    let outer = scoro::CancelScope::new();
    outer.handle().cancel();
    let caught = outer
        .run(async {
            let v = inner_sees_outer(&steps).await;
            seen.set(Some(v));
            v
        })
        .await;
    // The inner scope was not cancelled itself, so it hands the cancellation on...
    assert!(
        matches!(seen.get(), Some(Some(Err(c))) if c.reason() == CancelReason::Explicit),
        "{:?}",
        seen.get()
    );
    // ...and the outer scope catches it.
    assert_eq!(caught, None);
}
