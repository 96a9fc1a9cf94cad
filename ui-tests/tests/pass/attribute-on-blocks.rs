#![deny(warnings)]

use scoro::structured;

#[structured]
trait Shape {
    async fn area(&self) -> f64;

    async fn describe(&self) -> String {
        format!("{} with area {}", self.name(), self.area().await)
    }

    fn name(&self) -> &'static str;
}

struct Square(f64);

#[structured]
impl Shape for Square {
    async fn area(&self) -> f64 {
        self.0 * self.0
    }

    fn name(&self) -> &'static str {
        "square"
    }
}

struct Tree {
    children: Vec<Tree>,
}

#[structured]
impl Tree {
    fn leaf() -> Self {
        Tree {
            children: Vec::new(),
        }
    }

    async fn with_children(children: Vec<Tree>) -> Self {
        Tree { children }
    }

    // A method's own attribute wins over the block's, to add options.
    #[structured(boxed)]
    async fn size(&self) -> usize {
        let mut size = 1;
        for child in &self.children {
            size += child.size().await;
        }
        size
    }
}

fn main() {
    assert_eq!(scoro::run(Square(2.0).describe()), "square with area 4");
    let tree = scoro::run(Tree::with_children(vec![Tree::leaf(), Tree::leaf()]));
    assert_eq!(scoro::run(tree.size()), 3);
}
