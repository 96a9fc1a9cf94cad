//! The expansion never panics: whatever tokens an attribute gets (valid items, mutated ones,
//! garbage), it returns tokens, with `compile_error!`s for what is wrong.
//!
//! Property test: items of every supported shape are mutated at random (token trees deleted,
//! duplicated, swapped, replaced by keywords or punctuation, delimiters changed), and random
//! token trees are generated outright; each is expanded by all three attributes, with random
//! attribute arguments, and by `plain!`, under `catch_unwind`.

use crate::expand;
use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

/// Items of the shapes the attributes see, valid and invalid.
const SEEDS: &[&str] = &[
    "async fn f() {}",
    "pub async fn f<'a, T: Clone>(x: &'a T, (a, b): (u8, u16), mut c: Vec<T>) -> Result<T, E> where T: Send { let y = g(x).await?; Ok(y) }",
    "async fn f(&self, _: u8) -> impl Display { self.g().await }",
    "impl S { async fn a(&mut self) -> u32 { 1 } fn b() {} #[structured(boxed)] async fn c(self: Box<Self>) {} }",
    "trait T { async fn a(&self); async fn b(&self) -> u8 { 1 } fn c(); }",
    "async fn main() -> Result<(), E> { let n = nursery(async |n| -> Result<(), E> { n.start_soon(child(&x)); Ok(()) }).await?; Ok(n) }",
    "async fn f() { let c = async move { x.await }; let d = |x| async { x }; println!(\"{}\", y.await); vec![a.await; 3]; assert!(b.await); }",
    "async fn f() -> ! { loop { checkpoint().await; } }",
    "const fn f() {}",
    "unsafe extern \"C\" fn f(x: u8, ...) {}",
    "struct S;",
    "static X: u8 = 1;",
    "#[test] async fn t() {}",
    "async fn f() { macro_rules! m { ($e:expr) => { $e.await } } m!(x) }",
    "fn f() -> impl Future { async {} }",
    "async fn f() { x.await; (y).await; async { loop {} }.await; let _ = compat::future(async { z.await }).await?; spawn(plain!(async move { w.await })); }",
];

/// Tokens that the parser and the rewriter treat specially.
const KEYWORDS: &[&str] = &[
    "async", "fn", "await", "self", "Self", "impl", "unsafe", "const", "extern", "move", "dyn",
    "where", "mut", "ref", "_", "return", "trait", "pub", "r#async", "static", "for", "yield",
];
const PUNCTS: &[char] = &[
    '.', '?', ':', ';', ',', '-', '>', '<', '&', '#', '!', '=', '|', '\'',
];

/// Draws numbers from a tape of random bytes (zero when it runs out).
struct Tape<'a>(&'a [u8], usize);

impl Tape<'_> {
    fn next(&mut self, below: usize) -> usize {
        let b = self.0.get(self.1).copied().unwrap_or(0);
        self.1 += 1;
        b as usize % below.max(1)
    }
}

fn leaf(tape: &mut Tape<'_>) -> TokenTree {
    match tape.next(4) {
        0 => Ident::new(
            KEYWORDS[tape.next(KEYWORDS.len())].trim_start_matches("r#"),
            Span::call_site(),
        )
        .into(),
        1 => Punct::new(
            PUNCTS[tape.next(PUNCTS.len())],
            if tape.next(2) == 0 {
                Spacing::Alone
            } else {
                Spacing::Joint
            },
        )
        .into(),
        2 => Literal::u8_unsuffixed(tape.next(256) as u8).into(),
        _ => Ident::new(
            ["x", "f", "n", "E", "T", "structured", "boxed", "autojump"][tape.next(8)],
            Span::call_site(),
        )
        .into(),
    }
}

fn delimiter(tape: &mut Tape<'_>) -> Delimiter {
    [
        Delimiter::Parenthesis,
        Delimiter::Brace,
        Delimiter::Bracket,
        Delimiter::None,
    ][tape.next(4)]
}

/// Random token trees, nested up to `depth`.
fn garbage(tape: &mut Tape<'_>, depth: usize) -> TokenStream {
    let len = tape.next(8);
    (0..len)
        .map(|_| {
            if depth > 0 && tape.next(4) == 0 {
                Group::new(delimiter(tape), garbage(tape, depth - 1)).into()
            } else {
                leaf(tape)
            }
        })
        .collect()
}

/// `tokens` with a few random edits, at any depth.
fn mutate(tokens: TokenStream, tape: &mut Tape<'_>) -> TokenStream {
    let mut trees: Vec<TokenTree> = tokens.into_iter().collect();
    for _ in 0..tape.next(3) {
        if trees.is_empty() {
            trees.push(leaf(tape));
            continue;
        }
        let i = tape.next(trees.len());
        match tape.next(7) {
            0 => {
                trees.remove(i);
            }
            1 => trees.insert(i, trees[i].clone()),
            2 => {
                let j = tape.next(trees.len());
                trees.swap(i, j);
            }
            3 => trees[i] = leaf(tape),
            4 => trees.insert(i, leaf(tape)),
            5 => {
                if let TokenTree::Group(g) = &trees[i] {
                    trees[i] = Group::new(delimiter(tape), g.stream()).into();
                }
            }
            _ => {
                if let TokenTree::Group(g) = &trees[i] {
                    trees[i] = Group::new(g.delimiter(), mutate(g.stream(), tape)).into();
                }
            }
        }
    }
    trees.into_iter().collect()
}

fn expands_without_panicking(args: TokenStream, item: TokenStream) -> Result<(), String> {
    for (name, expand) in [
        (
            "structured",
            expand::structured as fn(TokenStream, TokenStream) -> TokenStream,
        ),
        ("main", expand::main),
        ("test", expand::test),
    ] {
        let (a, i) = (args.clone(), item.clone());
        if catch_unwind(AssertUnwindSafe(|| expand(a, i))).is_err() {
            return Err(format!("#[{name}({args})] panicked on: {item}"));
        }
    }
    let i = item.clone();
    if catch_unwind(AssertUnwindSafe(|| expand::plain(i))).is_err() {
        return Err(format!("plain!({item}) panicked"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_items_never_make_the_expansion_panic(
        seed in 0..SEEDS.len(),
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut tape = Tape(&bytes, 0);
        let item = mutate(TokenStream::from_str(SEEDS[seed]).unwrap(), &mut tape);
        let args = match tape.next(4) {
            0 => TokenStream::new(),
            1 => garbage(&mut tape, 1),
            2 => TokenStream::from_str(["boxed", "autojump", "boxed, boxed", "x = 1"][tape.next(4)]).unwrap(),
            _ => mutate(TokenStream::from_str("boxed, autojump").unwrap(), &mut tape),
        };
        prop_assert_eq!(expands_without_panicking(args, item), Ok(()));
    }

    #[test]
    fn garbage_never_makes_the_expansion_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut tape = Tape(&bytes, 0);
        let args = garbage(&mut tape, 1);
        let item = garbage(&mut tape, 3);
        prop_assert_eq!(expands_without_panicking(args, item), Ok(()));
    }
}
