//! The options written inside the attribute's parentheses: `#[structured(boxed)]`,
//! `#[scoro::test(autojump)]`, and none for `#[scoro::main]`.
//!
//! Options are bare identifiers separated by commas. A bad option is reported at its own tokens
//! and then ignored, so that the item still expands and the user sees one error, not a cascade.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Meta, Token};

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

pub(crate) fn structured(args: TokenStream, errors: &mut Errors) -> StructuredOptions {
    let given = parse(Attr::Structured, args, errors);
    StructuredOptions {
        boxed: given.contains(&"boxed"),
    }
}

pub(crate) fn main(args: TokenStream, errors: &mut Errors) {
    parse(Attr::Main, args, errors);
}

pub(crate) fn test(args: TokenStream, errors: &mut Errors) -> TestOptions {
    let given = parse(Attr::Test, args, errors);
    TestOptions {
        autojump: given.contains(&"autojump"),
    }
}

/// Input: the tokens between the attribute's parentheses, e.g. `boxed` or `foo = 1, boxed`.
/// Output: the accepted options that were given; every other token is reported in `errors`.
fn parse(attr: Attr, args: TokenStream, errors: &mut Errors) -> Vec<&'static str> {
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
    let mut given = Vec::new();
    for meta in metas {
        let path = meta.path();
        let Some(option) = accepted.iter().find(|option| path.is_ident(option)) else {
            let name = path.to_token_stream().to_string().replace(' ', "");
            errors.push(syn::Error::new_spanned(
                path,
                format!("unknown option `{name}`; {}", expected(attr)),
            ));
            continue;
        };
        if !matches!(meta, Meta::Path(_)) {
            errors.push(syn::Error::new_spanned(
                &meta,
                format!(
                    "option `{option}` takes no value; write {}",
                    attr.with_option(option)
                ),
            ));
        } else if given.contains(option) {
            errors.push(syn::Error::new_spanned(
                path,
                format!("option `{option}` is given twice"),
            ));
        } else {
            given.push(*option);
        }
    }
    given
}

/// The end of an "unknown option" message: what the attribute accepts.
fn expected(attr: Attr) -> String {
    match attr.accepted() {
        [] => format!("{} takes no options", attr.display()),
        [one] => format!("expected `{one}`"),
        many => {
            let names: Vec<String> = many.iter().map(|name| format!("`{name}`")).collect();
            format!("expected one of {}", names.join(", "))
        }
    }
}
