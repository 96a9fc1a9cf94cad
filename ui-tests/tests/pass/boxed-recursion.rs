#![deny(warnings)]

use scoro::structured;

#[structured(boxed)]
async fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1).await + fib(n - 2).await
    }
}

struct Node {
    value: u32,
    children: Vec<Node>,
}

#[structured(boxed)]
async fn total(node: &Node) -> u32 {
    let mut sum = node.value;
    for child in &node.children {
        sum += total(child).await;
    }
    sum
}

// Several input lifetimes, generics and a borrowed result.
#[structured(boxed)]
async fn find<'n, 'k, T: PartialEq + Copy>(
    node: &'n Node,
    key: &'k T,
    to_value: fn(T) -> u32,
) -> Option<&'n Node> {
    if node.value == to_value(*key) {
        return Some(node);
    }
    for child in &node.children {
        if let Some(found) = find(child, key, to_value).await {
            return Some(found);
        }
    }
    None
}

// Mutual recursion: one boxed function is enough to break the cycle.
#[structured(boxed)]
async fn is_even(n: u32) -> bool {
    if n == 0 { true } else { is_odd(n - 1).await }
}

#[structured]
async fn is_odd(n: u32) -> bool {
    if n == 0 { false } else { is_even(n - 1).await }
}

fn leaf(value: u32) -> Node {
    Node {
        value,
        children: Vec::new(),
    }
}

fn main() {
    assert_eq!(scoro::run(fib(15)), 610);
    let tree = Node {
        value: 1,
        children: vec![
            leaf(2),
            Node {
                value: 3,
                children: vec![leaf(4)],
            },
        ],
    };
    assert_eq!(scoro::run(total(&tree)), 10);
    let found = scoro::run(find(&tree, &4u8, u32::from));
    assert_eq!(found.map(|node| node.value), Some(4));
    assert!(scoro::run(is_even(10)));
    assert!(scoro::run(is_odd(7)));
}
