//! Rewrites the body of a `#[structured]` function so that it can only await coroutine calls.
//!
//! - `EXPR.await` goes through the hidden, sealed `Awaitable` trait, which only
//!   `CoroutineCall` implements (`AwaitableInBlock` inside an `async` block: the same trait
//!   with a message that also fits a block meant for another executor).
//! - `EXPR.await;`, a statement that drops the awaited value, reports a dropped `Result` with
//!   a message that says to propagate it with `?` (see `__private::discarded`).
//! - `async { .. }` and `async move { .. }` blocks become `CoroutineCall`s.
//! - Async closures stay async closures (nurseries need their signature inference), but their
//!   body is wrapped in `closure_body`, which only runs when a nursery polls it.
//! - Plain futures are left exactly as written: the `async` block that is the only argument
//!   of a call of `compat::future`, and the argument of `compat::plain!`. (A `CoroutineCall`
//!   awaited in one fails as in any plain `async` code, with the message of
//!   `__private::PlainFuture`.)
//!
//! The rewriting reaches into closures, nested `async` blocks and closures, and the arguments
//! of macro invocations that parse as comma-separated expressions (`println!`, `vec!`, ...).
//! It never enters nested items (`fn`, `impl`, `mod`, ...): they are not part of this body.
//!
//! Nothing written here is `unsafe`: these rules are for people (they turn the misuses people
//! write into errors that say what to do instead); soundness is checked by the runtime.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, Expr, ExprAsync, ExprAwait, ExprBlock, ExprClosure, Macro, ReturnType, Stmt, Token,
    Type, token,
};

/// Rewrites one function body. `prefix` is an expression of type `&'static str` (the module
/// path or the `Self` type name) and names async blocks `"{function}::{async block}"`.
pub(crate) struct Rewriter<'a> {
    prefix: &'a TokenStream,
    block_name: String,
    /// How many rewrites were made so far; tells whether a macro's arguments changed.
    rewrites: usize,
    /// What the code being visited compiles to.
    place: Place,
    /// Whether a dropped `.await` was rewritten: the body then needs the `Unchanged` trait in
    /// scope (see [`Rewriter::discard_import`]).
    discards: bool,
}

/// What the code being visited compiles to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// The structured body itself, or the body of an async closure in it.
    Body,
    /// An `async` block of the structured body: a `CoroutineCall` too.
    Block,
}

impl<'a> Rewriter<'a> {
    pub(crate) fn new(prefix: &'a TokenStream, function: &str) -> Self {
        Rewriter {
            prefix,
            block_name: format!("{function}::{{async block}}"),
            rewrites: 0,
            place: Place::Body,
            discards: false,
        }
    }

    /// The item that the rewritten body needs at its top, if any: the fallback method of
    /// dropped `.await`s (see `__private::discarded`) is a trait method, so the trait must be in
    /// scope. (It goes unused when every dropped value is a `Result`.)
    pub(crate) fn discard_import(&self) -> Option<TokenStream> {
        self.discards.then(|| {
            quote! {
                #[allow(unused_imports)]
                use ::scoro::__private::Unchanged as _;
            }
        })
    }

    pub(crate) fn rewrite_block(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
    }

    /// Visits `visit` with `place` as the current place.
    fn within(&mut self, place: Place, visit: impl FnOnce(&mut Self)) {
        let outer = std::mem::replace(&mut self.place, place);
        visit(self);
        self.place = outer;
    }

    // Input:  EXPR.await
    // Output: ::scoro::__private::Awaitable::__scoro_await(EXPR).await
    //         (`AwaitableInBlock::__scoro_await` in an `async` block)
    //
    // Awaiting anything but a `CoroutineCall` fails twice: once for the argument of
    // `__scoro_await` and once for the `.await` of its result. Rustc reports the second only if
    // its span differs from the first, so the call gets exactly EXPR's span: its path starts at
    // EXPR's first token, and its last segment and parentheses sit on EXPR's last token. The
    // user then sees one error, pointing at the whole expression (and the path, spanning the
    // same code, adds no label of its own).
    fn rewrite_await(&mut self, expr: ExprAwait) -> Expr {
        let ExprAwait {
            attrs,
            base,
            dot_token,
            await_token,
        } = expr;
        let tokens = base.to_token_stream();
        let (first, last) = (first_span(tokens.clone()), last_span(tokens));
        // `(EXPR).await`: the parentheses, needed before `.await`, would be unnecessary around
        // an argument, and `unused_parens` would say so.
        let mut base = base;
        while let Expr::Paren(paren) = *base {
            base = paren.expr;
        }
        let awaitable = match self.place {
            Place::Body => "Awaitable",
            Place::Block => "AwaitableInBlock",
        };
        let awaitable = syn::Ident::new(awaitable, first);
        let method = syn::Ident::new("__scoro_await", last);
        let function = quote_spanned!(first=> ::scoro::__private::#awaitable::#method);
        let mut arguments = Group::new(Delimiter::Parenthesis, quote!(#base));
        arguments.set_span(last);
        Expr::Verbatim(quote!(#(#attrs)* #function #arguments #dot_token #await_token))
    }

    // Input:  EXPR.await;    (a statement that drops the awaited value)
    // Output: ::scoro::__private::discarded(EXPR'.await).__scoro_discard();
    //         where EXPR'.await is the rewritten `.await`
    //
    // `__scoro_discard` turns a `Result` into an `impl AwaitedResult`, whose `#[must_use]`
    // message says to propagate it with `?`, and hands back any other value unchanged (see
    // `__private::discarded`). The call spans the user's whole expression, so the lint points
    // at it; the statement's attributes (`#[allow(unused_must_use)]`) stay on the statement.
    // Clippy's `unit_arg` would blame the user for `discarded(())`; its `allow` only exists
    // under Clippy, since a lint attribute per statement is measurable compile time.
    fn rewrite_dropped_await(&mut self, expr: &mut Expr) {
        self.discards = true;
        let attrs = match expr {
            Expr::Await(inner) => std::mem::take(&mut inner.attrs),
            _ => Vec::new(),
        };
        let tokens = expr.to_token_stream();
        let (first, last) = (first_span(tokens.clone()), last_span(tokens));
        self.visit_expr_mut(expr);
        let function = quote_spanned!(first=> ::scoro::__private::discarded);
        let mut argument = Group::new(Delimiter::Parenthesis, expr.to_token_stream());
        argument.set_span(last);
        let method = quote_spanned!(last=> .__scoro_discard());
        *expr = Expr::Verbatim(quote! {
            #(#attrs)*
            #[cfg_attr(clippy, allow(clippy::unit_arg))]
            #function #argument #method
        });
    }

    // Input:  async move? { body }
    // Output: { let __scoro_block = async move? { body }; ::scoro::__private::coroutine(__scoro_block, PREFIX, "f::{async block}") }
    //
    // The outer braces sit on the `async` keyword, so that errors about the resulting call
    // ("`CoroutineCall<{async block}>` is not a future", an unused call) point at the block.
    fn rewrite_async_block(&mut self, mut expr: ExprAsync) -> Expr {
        let attrs = std::mem::take(&mut expr.attrs);
        let var = syn::Ident::new("__scoro_block", Span::mixed_site());
        let prefix = self.prefix;
        let name = syn::LitStr::new(&self.block_name, Span::call_site());
        let call = quote!(::scoro::__private::coroutine(#var, #prefix, #name));
        let mut block = Group::new(
            Delimiter::Brace,
            quote! {
                #(#attrs)*
                let #var = #expr;
                #call
            },
        );
        block.set_span(expr.async_token.span);
        Expr::Verbatim(block.into_token_stream())
    }

    // Input:  async move? |args| -> R? body
    // Output: async move? |args| -> R? {
    //             ::scoro::__private::closure_body(async { pin R; body }).await
    //         }
    //
    // The inner block is not `move`, so each captured variable keeps the capture mode the
    // closure body needs, and `AsyncFn` closures stay `AsyncFn`.
    fn rewrite_async_closure(&mut self, closure: &mut ExprClosure) {
        let body = typed_body(&closure.output, TokenStream::new(), &closure.body);
        // The braces sit on the user's body, which names the closure's future in messages
        // (`{async closure body@src/main.rs:5:30}`).
        // (A real block, not verbatim braces: syn would add braces of its own around a
        // verbatim body when the closure declares its return type.)
        let call = quote! {
            ::scoro::__private::closure_body(async #body).await
        };
        *closure.body = Expr::Block(ExprBlock {
            attrs: Vec::new(),
            label: None,
            block: Block {
                brace_token: token::Brace(first_span(closure.body.to_token_stream())),
                stmts: vec![Stmt::Expr(Expr::Verbatim(call), None)],
            },
        });
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if is_plain_future(expr) {
            return;
        }
        let inner = match expr {
            Expr::Async(_) => Place::Block,
            Expr::Closure(closure) if closure.asyncness.is_some() => Place::Body,
            _ => self.place,
        };
        // Inner expressions first, so that each `.await`, block and closure is rewritten once.
        self.within(inner, |this| visit_mut::visit_expr_mut(this, expr));
        let placeholder = Expr::Verbatim(TokenStream::new());
        match std::mem::replace(expr, placeholder) {
            Expr::Await(inner) => {
                self.rewrites += 1;
                *expr = self.rewrite_await(inner);
            }
            Expr::Async(inner) => {
                self.rewrites += 1;
                *expr = self.rewrite_async_block(inner);
            }
            Expr::Closure(mut closure) if closure.asyncness.is_some() => {
                self.rewrites += 1;
                self.rewrite_async_closure(&mut closure);
                *expr = Expr::Closure(closure);
            }
            other => *expr = other,
        }
    }

    // An `async { .. }.await;` written in place is left to rustc: its value is the block's own
    // tail, in plain sight, and a block that never returns (`async { loop { .. } }`) has an
    // output type that is still unknown when `__scoro_discard` would be looked up.
    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            Stmt::Expr(expr @ Expr::Await(_), Some(_)) if !awaits_async_block(expr) => {
                self.rewrite_dropped_await(expr);
            }
            _ => visit_mut::visit_stmt_mut(self, stmt),
        }
    }

    // Nested items are compiled on their own and may carry their own `#[structured]`.
    fn visit_item_mut(&mut self, _item: &mut syn::Item) {}

    // Input:  name!(a, b.await, c) or name![x.await; n]
    // Output: the same invocation with its arguments rewritten; tokens that do not parse as
    //         expressions are left alone, and so are invocations with nothing to rewrite.
    //         `plain!(..)` (`compat::plain!`) is left alone: its argument is a plain future.
    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        if is_plain_macro(&mac.path) {
            return;
        }
        let Ok(mut args) = MacroArgs::parse.parse2(mac.tokens.clone()) else {
            return;
        };
        let first = match &args {
            MacroArgs::List(list) => list.first().map(ToTokens::to_token_stream),
            MacroArgs::Repeat(..) => None,
        };
        let before = self.rewrites;
        args.visit(self);
        if self.rewrites == before {
            return;
        }
        if let Some(condition) = first {
            keep_assert_message(&mac.path, &mut args, condition);
        }
        mac.tokens = args.into_token_stream();
    }
}

/// Whether `expr` is `compat::future(async { .. })` (or `compat::tokio_future(..)`): a call of
/// a path ending in `compat::future` or `compat::tokio_future` whose only argument is an
/// `async` block, which then stays a plain future.
fn is_plain_future(expr: &Expr) -> bool {
    let Expr::Call(call) = expr else { return false };
    let Expr::Path(path) = &*call.func else {
        return false;
    };
    let mut names = path
        .path
        .segments
        .iter()
        .rev()
        .map(|segment| &segment.ident);
    let ends_in_compat_future = names
        .next()
        .is_some_and(|name| name == "future" || name == "tokio_future")
        && names.next().is_some_and(|name| name == "compat");
    path.qself.is_none()
        && ends_in_compat_future
        && call.args.len() == 1
        && matches!(call.args.first(), Some(Expr::Async(_)))
}

/// Whether `expr` is `async { .. }.await`, also with the block in parentheses.
fn awaits_async_block(expr: &Expr) -> bool {
    let Expr::Await(inner) = expr else {
        return false;
    };
    let mut base = &*inner.base;
    while let Expr::Paren(paren) = base {
        base = &paren.expr;
    }
    matches!(base, Expr::Async(_))
}

/// Whether a macro invocation is `compat::plain!`, recognised by its last path segment.
fn is_plain_macro(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|segment| segment.ident == "plain")
}

// Input:  assert!(COND') where COND' is the rewritten form of the user's COND
// Output: assert!(COND', "assertion failed: {}", ::core::stringify!(COND))
//
// `assert!` and `debug_assert!` print their condition's source when it fails; without a
// message of their own they would print the rewritten code. The message they would have
// printed is passed explicitly instead.
fn keep_assert_message(path: &syn::Path, args: &mut MacroArgs, condition: TokenStream) {
    let is_assert = path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "assert" || segment.ident == "debug_assert");
    let MacroArgs::List(list) = args else { return };
    if !is_assert || list.len() != 1 {
        return;
    }
    list.push(Expr::Verbatim(quote!("assertion failed: {}")));
    list.push(Expr::Verbatim(quote!(::core::stringify!(#condition))));
}

/// The arguments of a macro invocation, when they are expressions.
enum MacroArgs {
    /// `a, b, c` (a trailing comma allowed).
    List(Punctuated<Expr, Token![,]>),
    /// `value; count`, as in `vec![x; n]`.
    Repeat(Box<Expr>, Token![;], Box<Expr>),
}

impl Parse for MacroArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let fork = input.fork();
        if let Ok(list) = Punctuated::parse_terminated(&fork) {
            input.parse::<TokenStream>()?;
            return Ok(MacroArgs::List(list));
        }
        let value = input.parse()?;
        let semi = input.parse()?;
        let count = input.parse()?;
        Ok(MacroArgs::Repeat(value, semi, count))
    }
}

impl MacroArgs {
    fn visit(&mut self, rewriter: &mut Rewriter<'_>) {
        match self {
            MacroArgs::List(list) => list.iter_mut().for_each(|e| rewriter.visit_expr_mut(e)),
            MacroArgs::Repeat(value, _, count) => {
                rewriter.visit_expr_mut(value);
                rewriter.visit_expr_mut(count);
            }
        }
    }
}

impl ToTokens for MacroArgs {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            MacroArgs::List(list) => list.to_tokens(tokens),
            MacroArgs::Repeat(value, semi, count) => {
                value.to_tokens(tokens);
                semi.to_tokens(tokens);
                count.to_tokens(tokens);
            }
        }
    }
}

// Input:  the declared output type `T` (or none) and the user's (rewritten) body `{ .. }`
// Output: the contents of the state machine's block, with `T` as the block's output type:
//         `if false { return ::scoro::__private::output::<T>(); } ..`
//         where `..` are the body's statements (`impl Trait` parts of `T` as `_`; no `if` when
//         there is no `T` left)
//
// An `async` block infers its output type from its body. Returning a value of type `T` first
// fixes that type before the user's code is checked, so that `return` expressions, `?`, and the
// body's final value all get `T` as their expected type: coercions such as `Box<S>` to
// `Box<dyn Trait>` work as they do in an `async fn`, and a mismatch is reported at the user's
// code with a note pointing at `T`. (The same technique as dtolnay's async-trait.)
//
// The body's statements are spliced into the block rather than nested as a block of their own:
// a nested block as the tail would trip `unused_braces`, and binding it to a typed `let` costs
// compile time (a local, and an `allow(unreachable_code)` for bodies that never finish). The
// argument rebindings before them declare the same names the body sees anyway.
//
// The result is the block's braces with `prefix` (the argument rebindings) before all that. The
// braces are the user's, so that "`x` dropped here while still borrowed" points at the end of
// the user's body.
pub(crate) fn typed_body(output: &ReturnType, prefix: TokenStream, body: &Expr) -> Group {
    let (body, span) = match body {
        Expr::Block(ExprBlock {
            attrs,
            label: None,
            block,
        }) if attrs.is_empty() => {
            let stmts = &block.stmts;
            (quote!(#(#stmts)*), block.brace_token.span.join())
        }
        other => (other.to_token_stream(), Span::call_site()),
    };
    let pin = expression_type(output).map(|ty| pin_output(&ty));
    let mut group = Group::new(Delimiter::Brace, quote!(#prefix #pin #body));
    group.set_span(span);
    group
}

fn pin_output(ty: &Type) -> TokenStream {
    // `return VALUE` spans the user's `T`, so that "return type inferred to be `T` here" points
    // at the signature. (`output` returns `T` without running; a call, unlike a `let` or a
    // pattern, does not make rustc warn about unreachable code when `T` is uninhabited.)
    let tokens = ty.to_token_stream();
    let (first, last) = (first_span(tokens.clone()), last_span(tokens));
    let return_token = Token![return](first);
    let function = quote_spanned!(last=> ::scoro::__private::output::<#ty>);
    let mut arguments = Group::new(Delimiter::Parenthesis, TokenStream::new());
    arguments.set_span(last);
    quote! {
        if false {
            #return_token #function #arguments;
        }
    }
}

// Input:  a declared output type, e.g. `Result<impl Display, String>`
// Output: the same type as it can be written in an expression or a `let`, with each
//         `impl Trait` and `!` (which cannot be written there) left to inference:
//         `Result<_, String>`; nothing when no part of the type would be left.
fn expression_type(output: &ReturnType) -> Option<Type> {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::ImplTrait(_) | Type::Never(_)) {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: Token![_](Span::call_site()),
                });
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut ty = (**ty).clone();
    Infer.visit_type_mut(&mut ty);
    (!matches!(ty, Type::Infer(_))).then_some(ty)
}

/// The span of the first token of `tokens`, looking into invisible groups.
fn first_span(tokens: TokenStream) -> Span {
    match tokens.into_iter().next() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::None => {
            first_span(group.stream())
        }
        Some(TokenTree::Group(group)) => group.span_open(),
        Some(token) => token.span(),
        None => Span::call_site(),
    }
}

/// The span of the last token of `tokens`, looking into invisible groups.
fn last_span(tokens: TokenStream) -> Span {
    match tokens.into_iter().last() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::None => {
            last_span(group.stream())
        }
        Some(TokenTree::Group(group)) => group.span_close(),
        Some(token) => token.span(),
        None => Span::call_site(),
    }
}
