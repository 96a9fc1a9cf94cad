#![deny(warnings)]

use scoro::structured;

#[structured]
async fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[structured]
async fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

#[structured]
async fn two_inputs(a: &str, b: &mut String, c: &[u8]) -> usize {
    b.push_str(a);
    b.len() + c.len()
}

struct Parser<'s> {
    input: &'s str,
}

impl<'s> Parser<'s> {
    #[structured]
    async fn rest(&self, skip: usize) -> &'s str {
        &self.input[skip..]
    }
}

#[structured]
async fn chain<'a, 'b: 'a>(a: &'a str, b: &'b str) -> &'a str {
    let winner = longest(a, b).await;
    first_word(winner).await
}

fn main() {
    assert_eq!(scoro::run(longest("ab", "abc")), "abc");
    assert_eq!(scoro::run(first_word("hello world")), "hello");
    let mut buffer = String::from("x");
    assert_eq!(scoro::run(two_inputs("yz", &mut buffer, &[1])), 4);
    assert_eq!(buffer, "xyz");
    let parser = Parser { input: "hello" };
    let rest = scoro::run(parser.rest(2));
    assert_eq!(rest, "llo");
    assert_eq!(scoro::run(chain("a b", "long words")), "long");
}
