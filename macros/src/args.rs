//! The options written inside the attribute's parentheses: `#[structured(boxed)]`,
//! `#[scoro::test(autojump)]`, `#[scoro::main(dump_tree_on = SIGUSR1, watchdog_ms = 2000)]`.
//!
//! Options are separated by commas. Most are bare identifiers; the options of `#[scoro::main]`
//! are `name = value`. A bad option or value is reported at its own tokens and then ignored, so
//! that the item still expands and the user sees one error, not a cascade.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, Meta, Token};

use crate::diag::{Attr, Errors};

/// Options of `#[structured]`.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct StructuredOptions {
    /// `boxed`: put the state machine in a `Box` so that the function may call itself.
    pub(crate) boxed: bool,
}

/// Options of `#[scoro::test]`.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TestOptions {
    /// `autojump`: run the test under a mock clock that jumps whenever every task is blocked.
    pub(crate) autojump: bool,
}

/// Options of `#[scoro::main]`.
#[derive(Clone, Default, Debug)]
pub(crate) struct MainOptions {
    /// `dump_tree_on = SIGUSR1`: print the task tree when this signal (the name of a constant
    /// of `scoro::signal`) arrives.
    pub(crate) dump_tree_on: Option<Ident>,
    /// `watchdog_ms = 2000`: report task steps that hold the runtime thread longer than this.
    pub(crate) watchdog_ms: Option<u64>,
}

/// The signals `dump_tree_on` accepts: the constants of `scoro::signal` but SIGINT (Ctrl-C,
/// which cancels the run). Kept in step with that module.
const DUMP_SIGNALS: &[&str] = &[
    "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGQUIT", "SIGTERM", "SIGWINCH",
];

pub(crate) fn structured(args: TokenStream, errors: &mut Errors) -> StructuredOptions {
    let given = parse(Attr::Structured, args, errors);
    StructuredOptions {
        boxed: given.iter().any(|(name, _)| *name == "boxed"),
    }
}

pub(crate) fn main(args: TokenStream, errors: &mut Errors) -> MainOptions {
    let mut options = MainOptions::default();
    for (name, value) in parse(Attr::Main, args, errors) {
        let Some(value) = value else { continue };
        match name {
            "dump_tree_on" => options.dump_tree_on = signal_name(&value, errors),
            "watchdog_ms" => options.watchdog_ms = milliseconds(&value, errors),
            _ => unreachable!("`Attr::Main` accepts no other option"),
        }
    }
    options
}

pub(crate) fn test(args: TokenStream, errors: &mut Errors) -> TestOptions {
    let given = parse(Attr::Test, args, errors);
    TestOptions {
        autojump: given.iter().any(|(name, _)| *name == "autojump"),
    }
}

/// Input: the value of `dump_tree_on = ..`. Output: the signal's name, if it is one that
/// `scoro::signal` defines and that can print the tree; otherwise the error is reported.
fn signal_name(value: &Expr, errors: &mut Errors) -> Option<Ident> {
    let example = "`#[scoro::main(dump_tree_on = SIGUSR1)]`";
    let ident = match value {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    };
    let Some(ident) = ident else {
        let message = match value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(_), ..
            }) => format!("write the signal's name without quotes, as in {example}"),
            Expr::Lit(ExprLit {
                lit: Lit::Int(_), ..
            }) => format!("write the signal's name, not its number, as in {example}"),
            _ => format!(
                "expected the name of a signal of `scoro::signal`, as in {example}; one of {}",
                quoted(DUMP_SIGNALS)
            ),
        };
        errors.push(syn::Error::new_spanned(value, message));
        return None;
    };
    if ident == "SIGINT" {
        errors.push(syn::Error::new_spanned(
            ident,
            "the task tree cannot be printed on SIGINT: it is Ctrl-C, which cancels the run; \
             choose another signal, such as `SIGUSR1`",
        ));
        return None;
    }
    if !DUMP_SIGNALS.iter().any(|name| ident == name) {
        errors.push(syn::Error::new_spanned(
            ident,
            format!(
                "unknown signal `{ident}`; expected one of {} (the signals of `scoro::signal`)",
                quoted(DUMP_SIGNALS)
            ),
        ));
        return None;
    }
    Some(ident.clone())
}

/// Input: the value of `watchdog_ms = ..`. Output: the number of milliseconds, if it is a
/// whole number above zero; otherwise the error is reported.
fn milliseconds(value: &Expr, errors: &mut Errors) -> Option<u64> {
    let expected = "expected a whole number of milliseconds, as in \
                    `#[scoro::main(watchdog_ms = 2000)]`";
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = value
    else {
        errors.push(syn::Error::new_spanned(value, expected));
        return None;
    };
    match int.base10_parse::<u64>() {
        Ok(0) => {
            errors.push(syn::Error::new_spanned(
                int,
                "the watchdog's threshold must be at least 1 ms",
            ));
            None
        }
        Ok(ms) if int.suffix().is_empty() => Some(ms),
        _ => {
            errors.push(syn::Error::new_spanned(int, expected));
            None
        }
    }
}

/// `["a", "b"]` as "`a`, `b`".
fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    names.join(", ")
}

/// An example value of each option that takes one (the others are bare names).
fn example_value(option: &str) -> Option<&'static str> {
    match option {
        "dump_tree_on" => Some("SIGUSR1"),
        "watchdog_ms" => Some("2000"),
        _ => None,
    }
}

/// Input: the tokens between the attribute's parentheses, e.g. `boxed` or `foo = 1, boxed`.
/// Output: the accepted options that were given, with their values (for the options that take
/// one); every other token is reported in `errors`.
fn parse(attr: Attr, args: TokenStream, errors: &mut Errors) -> Vec<(&'static str, Option<Expr>)> {
    let accepted = attr.accepted();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(err) => {
            errors.push(syn::Error::new(
                err.span(),
                format!("expected an option name; {}", expected(attr)),
            ));
            return Vec::new();
        }
    };
    let mut given: Vec<(&'static str, Option<Expr>)> = Vec::new();
    for meta in metas {
        let path = meta.path().clone();
        let Some(&option) = accepted.iter().find(|option| path.is_ident(option)) else {
            let name = path.to_token_stream().to_string().replace(' ', "");
            errors.push(syn::Error::new_spanned(
                path,
                format!("unknown option `{name}`; {}", expected(attr)),
            ));
            continue;
        };
        let value = match (example_value(option), meta) {
            (None, Meta::Path(_)) => None,
            (Some(_), Meta::NameValue(nv)) => Some(nv.value),
            (None, meta) => {
                errors.push(syn::Error::new_spanned(
                    &meta,
                    format!(
                        "option `{option}` takes no value; write {}",
                        attr.with_option(option)
                    ),
                ));
                continue;
            }
            (Some(example), meta) => {
                errors.push(syn::Error::new_spanned(
                    &meta,
                    format!(
                        "option `{option}` takes a value; write {}",
                        attr.with_option(&format!("{option} = {example}"))
                    ),
                ));
                continue;
            }
        };
        if given.iter().any(|(name, _)| *name == option) {
            errors.push(syn::Error::new_spanned(
                path,
                format!("option `{option}` is given twice"),
            ));
        } else {
            given.push((option, value));
        }
    }
    given
}

/// The end of an "unknown option" message: what the attribute accepts.
fn expected(attr: Attr) -> String {
    match attr.accepted() {
        [] => format!("{} takes no options", attr.display()),
        [one] => format!("expected `{one}`"),
        many => format!("expected one of {}", quoted(many)),
    }
}
