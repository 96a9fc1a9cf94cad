//! Checks an item before expansion and reports each problem at the user's own tokens.
//!
//! Validation also repairs what it reports where it can (it drops a `const` or an ABI), so the
//! item still expands and one mistake gives one error instead of a cascade of type errors. The
//! only problem it cannot repair is a missing `async`: such an item is emitted as written.

use proc_macro2::Span;
use syn::{Attribute, Signature};

use crate::diag::{Attr, Errors};

/// Whether a function can be expanded after validation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Verdict {
    /// Expand it (any errors were reported and the offending qualifiers removed).
    Expand,
    /// Emit it as written: it is not an `async fn`.
    Keep,
}

/// Input: the signature of a function under `attr`.
/// Output: whether to expand it; problems go to `errors`, and `const`, an ABI and `...` are
/// removed from `sig` once reported.
pub(crate) fn signature(attr: Attr, sig: &mut Signature, errors: &mut Errors) -> Verdict {
    let name = attr.display();
    if sig.asyncness.is_none() {
        errors.error(
            sig.fn_token.span,
            format!("{name} expects an `async fn`; add `async` before `fn`"),
        );
        return Verdict::Keep;
    }
    if let Some(constness) = sig.constness.take() {
        errors.error(
            constness.span,
            format!(
                "{name} does not support `const fn`: the call runs when it is awaited, not at \
                 compile time; remove `const`"
            ),
        );
    }
    if let Some(unsafety) = sig.unsafety {
        // Kept in the output so that callers' `unsafe` blocks stay valid.
        errors.error(
            unsafety.span,
            format!(
                "{name} does not support `unsafe fn`; make the function safe and write `unsafe` \
                 blocks inside its body"
            ),
        );
    }
    if let Some(abi) = sig.abi.take() {
        errors.push(syn::Error::new_spanned(
            &abi,
            format!(
                "{name} does not support `extern` functions; remove `{}`",
                abi_text(&abi)
            ),
        ));
    }
    if let Some(variadic) = sig.variadic.take() {
        errors.push(syn::Error::new_spanned(
            variadic.dots,
            format!("{name} does not support variadic arguments (`...`)"),
        ));
        // Drop the comma that preceded `...`.
        if let Some(last) = sig.inputs.pop() {
            sig.inputs.push_value(last.into_value());
        }
    }
    Verdict::Expand
}

fn abi_text(abi: &syn::Abi) -> String {
    match &abi.name {
        Some(name) => format!("extern \"{}\"", name.value()),
        None => "extern".to_owned(),
    }
}

/// Input: the attributes of a `#[scoro::test]` function.
/// Output: the same without any `#[test]`, which the macro adds itself (reported as an error).
pub(crate) fn test_attrs(attrs: &mut Vec<Attribute>, errors: &mut Errors) {
    attrs.retain(|attr| {
        let is_test = attr.path().is_ident("test")
            || attr
                .path()
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .eq(["core", "prelude", "v1", "test"]);
        if is_test {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[scoro::test]` already makes the function a `#[test]`; remove this attribute",
            ));
        }
        !is_test
    });
}

/// Input: the signature of a `#[scoro::test]` function, or of a `#[scoro::main]` function
/// named `main`.
/// Output: whether it can be called as it is: the test harness and the program's start call
/// these functions without arguments or type parameters (the errors say so).
pub(crate) fn entry_signature(attr: Attr, sig: &Signature, errors: &mut Errors) -> bool {
    if attr == Attr::Main && sig.ident != "main" {
        return true;
    }
    let (generic, arguments) = match attr {
        Attr::Test => (
            "`#[scoro::test]` functions cannot be generic; the test harness calls them without \
             type arguments",
            "`#[scoro::test]` functions take no arguments; create the values inside the test",
        ),
        _ => (
            "`main` cannot be generic",
            "`main` takes no arguments; read command-line arguments with `std::env::args()`",
        ),
    };
    let mut valid = true;
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.generics, generic));
        valid = false;
    }
    if !sig.inputs.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.inputs, arguments));
        valid = false;
    }
    valid
}

/// Input: an item that is not a function, under `attr`.
/// Output: the error naming what `attr` accepts instead.
pub(crate) fn not_a_function(attr: Attr, kind: &str, span: Span, errors: &mut Errors) {
    let accepted = match attr {
        Attr::Structured => "an `async fn`, or an `impl` or `trait` block containing `async fn`s",
        Attr::Main | Attr::Test => "an `async fn`",
    };
    errors.error(
        span,
        format!(
            "{} cannot be used on {kind}; it expects {accepted}",
            attr.display()
        ),
    );
}

/// Input: an `impl` or `trait` block under `#[structured]` and how many `async fn`s it holds.
/// Output: an error when there is none, since the attribute would then do nothing.
pub(crate) fn block(kind: &str, span: Span, async_fns: usize, errors: &mut Errors) {
    if async_fns == 0 {
        errors.error(
            span,
            format!(
                "`#[structured]` on {kind} block applies to the `async fn`s in it, and there are \
                 none; remove the attribute or declare the methods `async fn`"
            ),
        );
    }
}

/// Input: the argument of `compat::plain!`, which is not an `async` block.
/// Output: the error, at the argument (at the invocation when it is empty).
pub(crate) fn plain_argument(input: proc_macro2::TokenStream, errors: &mut Errors) {
    let message = "`plain!` expects an `async` block, as in `scoro::compat::plain!(async move { .. })`; \
                   a future that already exists is a plain future as it is";
    if input.is_empty() {
        errors.error(Span::call_site(), message);
    } else {
        errors.push(syn::Error::new_spanned(input, message));
    }
}
