//! Parses the item an attribute is placed on into the shapes the macros handle: one function
//! (with or without a body), an `impl` block, a `trait` block, or anything else (an error later).
//!
//! Parsing never fails on valid Rust: an item we cannot handle becomes [`Item::Other`] so that
//! validation can name it in its message.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Block, ImplItemFn, Signature, Token, TraitItemFn, Visibility};

/// A function the attribute applies to: a free function, a method, or a trait method
/// declaration without a body.
pub(crate) struct Function {
    /// Outer attributes (`#[doc]`, `#[inline]`, ...), kept on the generated function.
    pub(crate) attrs: Vec<Attribute>,
    /// Inner attributes written at the top of the body (`#![allow(..)]`).
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// `default` of a specializing impl method.
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    /// `None` for a declaration ending in `;` (a required trait method).
    pub(crate) body: Option<Block>,
}

/// The item under the attribute.
pub(crate) enum Item {
    Function(Function),
    Impl(syn::ItemImpl),
    Trait(syn::ItemTrait),
    /// Any other item: its kind in words (e.g. "a `struct`") and a span to point at.
    Other {
        kind: &'static str,
        span: Span,
    },
}

/// Input: the tokens of the item under the attribute.
/// Output: the item in one of the shapes above.
pub(crate) fn item(tokens: TokenStream) -> syn::Result<Item> {
    let item: syn::Item = syn::parse2(tokens.clone())?;
    Ok(match item {
        syn::Item::Fn(f) => {
            Item::Function(Function::new(f.attrs, f.vis, None, f.sig, Some(*f.block)))
        }
        syn::Item::Impl(i) => Item::Impl(i),
        syn::Item::Trait(t) => Item::Trait(t),
        syn::Item::Verbatim(_) => match syn::parse2::<TraitItemFn>(tokens) {
            // A function without a body; syn gives it as verbatim tokens at item level.
            Ok(f) => Item::Function(Function::from_trait_item(f)),
            Err(_) => other(&item),
        },
        other_item => other(&other_item),
    })
}

impl Function {
    fn new(
        attrs: Vec<Attribute>,
        vis: Visibility,
        defaultness: Option<Token![default]>,
        sig: Signature,
        body: Option<Block>,
    ) -> Self {
        let (inner_attrs, attrs) = attrs
            .into_iter()
            .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
        Function {
            attrs,
            inner_attrs,
            vis,
            defaultness,
            sig,
            body,
        }
    }

    pub(crate) fn from_impl_item(f: ImplItemFn) -> Self {
        Function::new(f.attrs, f.vis, f.defaultness, f.sig, Some(f.block))
    }

    pub(crate) fn from_trait_item(f: TraitItemFn) -> Self {
        Function::new(f.attrs, Visibility::Inherited, None, f.sig, f.default)
    }

    /// The function as it was written, for output next to an error.
    pub(crate) fn original(&self) -> TokenStream {
        let Function {
            attrs,
            inner_attrs,
            vis,
            defaultness,
            sig,
            body,
        } = self;
        let body = match body {
            Some(block) => {
                let stmts = &block.stmts;
                let mut tokens = TokenStream::new();
                block.brace_token.surround(&mut tokens, |tokens| {
                    tokens.extend(quote::quote!(#(#inner_attrs)* #(#stmts)*));
                });
                tokens
            }
            None => quote::quote!(;),
        };
        quote::quote!(#(#attrs)* #vis #defaultness #sig #body)
    }
}

/// Describes an item that is neither a function nor an `impl`/`trait` block, pointing at the
/// keyword that says what it is.
fn other(item: &syn::Item) -> Item {
    let (kind, span) = match item {
        syn::Item::Const(i) => ("a `const` item", i.const_token.span),
        syn::Item::Enum(i) => ("an `enum`", i.enum_token.span),
        syn::Item::ExternCrate(i) => ("an `extern crate` item", i.extern_token.span),
        syn::Item::ForeignMod(i) => ("an `extern` block", i.abi.span()),
        syn::Item::Macro(i) => ("a macro invocation", i.mac.path.span()),
        syn::Item::Mod(i) => ("a `mod`", i.mod_token.span),
        syn::Item::Static(i) => ("a `static`", i.static_token.span),
        syn::Item::Struct(i) => ("a `struct`", i.struct_token.span),
        syn::Item::TraitAlias(i) => ("a trait alias", i.trait_token.span),
        syn::Item::Type(i) => ("a `type` alias", i.type_token.span),
        syn::Item::Union(i) => ("a `union`", i.union_token.span),
        syn::Item::Use(i) => ("a `use` item", i.use_token.span),
        other => ("this item", first_span(other)),
    };
    Item::Other { kind, span }
}

fn first_span(item: &impl ToTokens) -> Span {
    item.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}
