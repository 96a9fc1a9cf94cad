//! Generates the code of the three attributes from a parsed and validated item.
//!
//! A `#[structured] async fn` becomes a plain `fn` returning
//! `::scoro::CoroutineCall<impl ::core::future::Future<Output = T>>`. Its body becomes an
//! `async move` block (the state machine), rewritten by [`crate::rewrite`], and handed to the
//! runtime's `coroutine` (or `boxed`) with the function's name.
//!
//! Conventions of the generated code:
//! - paths are absolute (`::scoro::..`, `::core::..`);
//! - identifiers we invent have `Span::mixed_site()`, so user code cannot see or shadow them;
//! - the return type `CoroutineCall<impl Future<..>>` around the user's `T` has
//!   `Span::call_site()`: it gets this crate's edition-2024 capture rules, so that in
//!   edition-2021 crates the future still captures elided lifetimes (the `edition2021` tests
//!   fail without it);
//! - no `unsafe` at all: every path the generated code names (`::scoro`, `::core`) can be
//!   redirected by the user's crate root (`extern crate self as core;`), so none of it may sit
//!   in an `unsafe` block. Soundness is checked by the runtime (see `scoro`'s `runtime::task`).
//!
//! When validation reports errors the item is still expanded as well as possible (or emitted
//! as written), next to the `compile_error!`s, so one mistake gives one error.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, Block, Expr, FnArg, ImplItem, ItemImpl, ItemTrait, Pat, PatIdent, ReturnType,
    Signature, Token, TraitItem, Type,
};

use crate::args::{self, StructuredOptions};
use crate::diag::{Attr, Errors};
use crate::parse::{self, Function, Item};
use crate::rewrite::{Rewriter, typed_body};
use crate::validate::{self, Verdict};

/// `#[structured]` on any item.
pub(crate) fn structured(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = args::structured(args, &mut errors);
    let output = match parse::item(input.clone()) {
        Ok(Item::Function(mut function)) => {
            let prefix = Prefix::guess(&mut function);
            structured_fn(function, prefix, options, &mut errors)
        }
        Ok(Item::Impl(block)) => impl_block(block, options, &mut errors),
        Ok(Item::Trait(block)) => trait_block(block, options, &mut errors),
        Ok(Item::Other { kind, span }) => {
            validate::not_a_function(Attr::Structured, kind, span, &mut errors);
            input
        }
        Err(error) => {
            errors.push(error);
            input
        }
    };
    let errors = errors.into_compile_errors();
    quote!(#errors #output)
}

/// `#[scoro::main]`.
pub(crate) fn main(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = args::main(args, &mut errors);
    let output = entry_point(
        Attr::Main,
        input,
        &mut errors,
        TokenStream::new(),
        |call| quote!(::scoro::__private::run_main(#call, #options)),
    );
    let errors = errors.into_compile_errors();
    quote!(#errors #output)
}

// Input:  the options of `#[scoro::main]`
// Output: `::scoro::__private::MainOptions::NONE`, or with options given
//         `::scoro::__private::MainOptions { dump_tree_on: Some(::scoro::signal::SIGUSR1),
//         watchdog_ms: None }` (every field written out: a struct update would be needless
//         for clippy when both are given)
impl ToTokens for args::MainOptions {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if self.dump_tree_on.is_none() && self.watchdog_ms.is_none() {
            tokens.extend(quote!(::scoro::__private::MainOptions::NONE));
            return;
        }
        let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
        let none = quote!(::core::option::Option::None);
        let signal = match &self.dump_tree_on {
            Some(name) => some(quote!(::scoro::signal::#name)),
            None => none.clone(),
        };
        let watchdog = match self.watchdog_ms {
            Some(ms) => some(quote!(#ms)),
            None => none,
        };
        tokens.extend(quote!(::scoro::__private::MainOptions {
            dump_tree_on: #signal,
            watchdog_ms: #watchdog,
        }));
    }
}

/// `#[scoro::test]`.
pub(crate) fn test(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = args::test(args, &mut errors);
    let autojump = options.autojump;
    let output = entry_point(
        Attr::Test,
        input,
        &mut errors,
        quote!(#[::core::prelude::v1::test]),
        |call| quote!(::scoro::__private::run_test(#call, #autojump)),
    );
    let errors = errors.into_compile_errors();
    quote!(#errors #output)
}

/// `compat::plain!`.
// Input:  async move? { body }
// Output: the same block, unchanged (`#[structured]` does not rewrite inside the invocation).
pub(crate) fn plain(input: TokenStream) -> TokenStream {
    match syn::parse2::<Expr>(input.clone()) {
        Ok(Expr::Async(_)) => input,
        _ => {
            let mut errors = Errors::default();
            validate::plain_argument(input, &mut errors);
            errors.into_compile_errors()
        }
    }
}

/// The `&'static str` a coroutine's name starts with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prefix {
    /// `::core::module_path!()`, for free functions.
    Module,
    /// `::core::any::type_name::<Self>()`, for methods and associated functions.
    SelfType,
}

impl Prefix {
    /// A function under its own attribute may be a free function or sit in an `impl` or
    /// `trait` block; the macro cannot see which. It is a method if it has a receiver or
    /// mentions `Self` (outside nested items), since `Self` means nothing in a free function.
    // (The visitor only reads: it takes `&mut` because syn's `VisitMut` is the one visitor this
    // crate enables.)
    fn guess(function: &mut Function) -> Self {
        let mut finder = FindSelf(function.sig.receiver().is_some());
        if !finder.0 {
            finder.visit_signature_mut(&mut function.sig);
        }
        if let (false, Some(body)) = (finder.0, &mut function.body) {
            finder.visit_block_mut(body);
        }
        if finder.0 {
            Prefix::SelfType
        } else {
            Prefix::Module
        }
    }

    fn tokens(self) -> TokenStream {
        match self {
            Prefix::Module => quote!(::core::module_path!()),
            Prefix::SelfType => quote!(::core::any::type_name::<Self>()),
        }
    }
}

/// Looks for `Self` outside nested items.
struct FindSelf(bool);

impl VisitMut for FindSelf {
    fn visit_ident_mut(&mut self, ident: &mut proc_macro2::Ident) {
        self.0 = self.0 || ident == "Self";
    }
    fn visit_item_mut(&mut self, _item: &mut syn::Item) {}
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        self.0 |= mentions_self(mac.tokens.clone());
        visit_mut::visit_macro_mut(self, mac);
    }
}

fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "Self",
        proc_macro2::TokenTree::Group(group) => mentions_self(group.stream()),
        _ => false,
    })
}

// Input:  [attrs] [vis] async fn name<G>(args) -> T where W { body }
// Output: [attrs]
//         #[deny(unused_must_use)]
//         [vis] fn name<G>(args') -> ::scoro::CoroutineCall<impl Future<Output = T>> where W {
//             ::scoro::__private::coroutine(async move { /* rebind args */ body' }, PREFIX, "name")
//         }
// A declaration without a body only gets the new return type.
fn structured_fn(
    mut function: Function,
    prefix: Prefix,
    options: StructuredOptions,
    errors: &mut Errors,
) -> TokenStream {
    if validate::signature(Attr::Structured, &mut function.sig, errors) == Verdict::Keep {
        return function.original();
    }
    let Function {
        attrs,
        inner_attrs,
        vis,
        defaultness,
        mut sig,
        body,
    } = function;
    let Some(body) = body else {
        sig.asyncness = None;
        sig.output = coroutine_return_type(&sig.output);
        return quote!(#(#attrs)* #vis #defaultness #sig;);
    };
    let call = coroutine(&mut sig, body, prefix, options.boxed);
    sig.output = coroutine_return_type(&sig.output);
    quote! {
        #(#attrs)*
        #vis #defaultness #sig {
            #![deny(unused_must_use)]
            #(#inner_attrs)*
            #call
        }
    }
}

// Input:  [attrs] async fn name(args) -> T { body }      (under #[scoro::main] or #[scoro::test])
// Output: EXTRA_ATTRS [attrs] #[deny(unused_must_use)] fn name(args) -> T {
//             WRAP(::scoro::__private::coroutine(async move { body' }, PREFIX, "name"))
//         }
fn entry_point(
    attr: Attr,
    input: TokenStream,
    errors: &mut Errors,
    extra_attrs: TokenStream,
    wrap: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    let mut function = match parse::item(input.clone()) {
        Ok(Item::Function(function)) => function,
        Ok(Item::Impl(block)) => {
            let span = block.impl_token.span;
            validate::not_a_function(attr, "an `impl` block", span, errors);
            return input;
        }
        Ok(Item::Trait(block)) => {
            let span = block.trait_token.span;
            validate::not_a_function(attr, "a `trait`", span, errors);
            return input;
        }
        Ok(Item::Other { kind, span }) => {
            validate::not_a_function(attr, kind, span, errors);
            return input;
        }
        Err(error) => {
            errors.push(error);
            return input;
        }
    };
    let mut extra_attrs = extra_attrs;
    if attr == Attr::Test {
        validate::test_attrs(&mut function.attrs, errors);
    }
    if !validate::entry_signature(attr, &function.sig, errors) {
        if attr == Attr::Main {
            // Keep the body compiling (no cascade of "unused" warnings) as a structured
            // function nobody calls, next to an empty `main`.
            function.sig.ident = syn::Ident::new("__scoro_main", Span::mixed_site());
            let prefix = Prefix::guess(&mut function);
            let body = structured_fn(function, prefix, StructuredOptions::default(), errors);
            return quote!(#[allow(dead_code)] #body fn main() {});
        }
        // Expanded without `#[test]`, so that the harness adds no error of its own.
        extra_attrs = quote!(#[allow(dead_code)]);
    }
    if validate::signature(attr, &mut function.sig, errors) == Verdict::Keep {
        let original = function.original();
        return quote!(#extra_attrs #original);
    }
    let prefix = Prefix::guess(&mut function);
    let Function {
        attrs,
        inner_attrs,
        vis,
        defaultness,
        mut sig,
        body,
    } = function;
    let Some(body) = body else {
        errors.error(
            sig.fn_token.span,
            format!("{} expects an `async fn` with a body", attr.display()),
        );
        return quote!(#(#attrs)* #vis #defaultness #sig;);
    };
    let call = wrap(coroutine(&mut sig, body, prefix, false));
    quote! {
        #extra_attrs
        #(#attrs)*
        #vis #defaultness #sig {
            #![deny(unused_must_use)]
            #(#inner_attrs)*
            #call
        }
    }
}

// Input:  a signature `async fn name(args) -> T` and its body
// Output: the expression
//         `::scoro::__private::coroutine(async move { rebind args; body' }, PREFIX, "name")`
//         (the body's output type fixed by `rewrite::typed_body`); `sig` loses `async`, and its arguments are renamed where
//         their patterns moved inside.
// With `boxed`, `::scoro::__private::boxed` puts the state machine in a box (registered with
// the runtime while it is polled, so nurseries inside it pass their placement check), so it
// has a fixed size and the function may await itself.
//
// Compile time: every token here is type-checked and borrow-checked once per function, so the
// expansion is kept to what it needs (see the book's "Compile time" section): the block is the
// call's argument (no `let`), and the body's statements sit directly in it.
fn coroutine(sig: &mut Signature, mut body: Block, prefix: Prefix, boxed: bool) -> TokenStream {
    let name = sig.ident.unraw().to_string();
    let prefix = prefix.tokens();
    let mut rewriter = Rewriter::new(&prefix, &name);
    rewriter.rewrite_block(&mut body);
    let import = rewriter.discard_import();

    let rebind = rebind_arguments(&mut sig.inputs);
    sig.asyncness = None;

    let body = typed_body(&sig.output, quote!(#import #(#rebind)*), &block_expr(body));
    let name = syn::LitStr::new(&name, Span::call_site());
    let wrap = if boxed {
        quote!(boxed)
    } else {
        quote!(coroutine)
    };
    quote!(::scoro::__private::#wrap(async move #body, #prefix, #name))
}

fn block_expr(block: Block) -> Expr {
    Expr::Block(syn::ExprBlock {
        attrs: Vec::new(),
        label: None,
        block,
    })
}

// Input:  -> T   (or nothing, meaning `()`)
// Output: -> ::scoro::CoroutineCall<impl ::core::future::Future<Output = T>>
fn coroutine_return_type(output: &ReturnType) -> ReturnType {
    let (arrow, ty) = match output {
        ReturnType::Default => (Token![->](Span::call_site()), quote!(())),
        ReturnType::Type(arrow, ty) => (*arrow, ty.to_token_stream()),
    };
    // `quote!` gives `impl` the call-site span: see the module docs.
    let ty = quote!(::scoro::CoroutineCall<impl ::core::future::Future<Output = #ty>>);
    ReturnType::Type(arrow, Box::new(Type::Verbatim(ty)))
}

// Input:  the arguments of an `async fn`
// Output: statements that move every argument into the `async move` block, as rustc's own
//         `async fn` lowering does, so that each lives until the body finishes:
//         `x: T`          -> `let x = x;`
//         `mut x: T`      -> `let mut x = x;`            (and `x: T` in the signature)
//         `(a, b): (A, B)` -> `let __arg0 = __arg0; let (a, b) = __arg0;`  (`__arg0: (A, B)`)
//         `_: T`          -> `let __arg0 = __arg0; let _ = __arg0;`        (dropped at the end)
//         receivers       -> `let _ = &self;`            (`mut self` stays in the signature)
fn rebind_arguments(inputs: &mut Punctuated<FnArg, Token![,]>) -> Vec<TokenStream> {
    let mut rebind = Vec::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                let self_token = receiver.self_token;
                rebind.push(quote!(let _ = &#self_token;));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let attrs = &typed.attrs;
        match &mut *typed.pat {
            Pat::Ident(PatIdent {
                by_ref: None,
                mutability,
                ident,
                subpat: None,
                ..
            }) => {
                // Clippy's lints would blame the user for our rebinding: `x` shadowed by
                // itself, `_x` used although its name says it is not. The `allow` is only
                // there under Clippy: a lint attribute per argument is measurable compile time.
                rebind.push(quote! {
                    #(#attrs)*
                    #[cfg_attr(clippy, allow(clippy::shadow_same, clippy::used_underscore_binding))]
                    let #mutability #ident = #ident;
                });
                *mutability = None;
            }
            pat => {
                let arg = syn::Ident::new(&format!("__arg{index}"), Span::mixed_site());
                rebind.push(quote! {
                    #(#attrs)* let #arg = #arg;
                    #(#attrs)* let #pat = #arg;
                });
                *pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: arg,
                    subpat: None,
                });
            }
        }
    }
    rebind
}

/// Whether the attribute on a block expands this method: it must be an `async fn` (each one is
/// counted in `async_fns`) without its own `#[structured]`, which then expands it instead (so
/// it can add options such as `boxed`).
fn block_expands(sig: &Signature, attrs: &[Attribute], async_fns: &mut usize) -> bool {
    if sig.asyncness.is_none() {
        return false;
    }
    *async_fns += 1;
    !attrs.iter().any(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "structured")
    })
}

// Input:  #[structured] impl X { async fn a(..) {..} fn b() {..} }
// Output: impl X { <a expanded as a method> fn b() {..} }
fn impl_block(mut block: ItemImpl, options: StructuredOptions, errors: &mut Errors) -> TokenStream {
    let mut async_fns = 0;
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item
            && block_expands(&method.sig, &method.attrs, &mut async_fns)
        {
            let function = Function::from_impl_item(method.clone());
            *item = ImplItem::Verbatim(structured_fn(function, Prefix::SelfType, options, errors));
        }
    }
    validate::block("an `impl`", block.impl_token.span, async_fns, errors);
    block.into_token_stream()
}

// Input:  #[structured] trait X { async fn a(&self); async fn b(&self) {..} fn c(); }
// Output: trait X {
//             fn a(&self) -> ::scoro::CoroutineCall<impl Future<Output = ()>>;
//             <b expanded as a method>
//             fn c();
//         }
fn trait_block(
    mut block: ItemTrait,
    options: StructuredOptions,
    errors: &mut Errors,
) -> TokenStream {
    let mut async_fns = 0;
    for item in &mut block.items {
        if let TraitItem::Fn(method) = item
            && block_expands(&method.sig, &method.attrs, &mut async_fns)
        {
            let function = Function::from_trait_item(method.clone());
            *item = TraitItem::Verbatim(structured_fn(function, Prefix::SelfType, options, errors));
        }
    }
    validate::block("a `trait`", block.trait_token.span, async_fns, errors);
    block.into_token_stream()
}
