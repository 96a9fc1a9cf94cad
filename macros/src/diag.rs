//! What every part of the expansion reports with: which attribute is being expanded (to word
//! messages) and the errors collected so far. Shared by `args`, `validate` and `expand`, and
//! importing none of them.

use proc_macro2::{Span, TokenStream};

/// Which attribute is being expanded; used to word messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Attr {
    Structured,
    Main,
    Test,
}

impl Attr {
    /// The attribute as users write it, in backticks, for messages.
    pub(crate) fn display(self) -> &'static str {
        match self {
            Attr::Structured => "`#[structured]`",
            Attr::Main => "`#[scoro::main]`",
            Attr::Test => "`#[scoro::test]`",
        }
    }

    /// The options this attribute accepts.
    pub(crate) fn accepted(self) -> &'static [&'static str] {
        match self {
            Attr::Structured => &["boxed"],
            Attr::Main => &["dump_tree_on", "watchdog_ms"],
            Attr::Test => &["autojump"],
        }
    }

    /// The attribute written with `option`, e.g. `#[structured(boxed)]`.
    pub(crate) fn with_option(self, option: &str) -> String {
        match self {
            Attr::Structured => format!("`#[structured({option})]`"),
            Attr::Main => format!("`#[scoro::main({option})]`"),
            Attr::Test => format!("`#[scoro::test({option})]`"),
        }
    }
}

/// The errors found while expanding one attribute, combined into one `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// One `compile_error!` per error, or nothing.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.0
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }
}
