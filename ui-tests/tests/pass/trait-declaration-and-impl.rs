#![deny(warnings)]

use scoro::structured;

trait Store {
    #[structured]
    async fn get(&self, key: u32) -> Option<String>;

    #[structured]
    async fn put(&mut self, key: u32, value: String);

    #[structured]
    async fn get_or(&self, key: u32, default: &str) -> String {
        match self.get(key).await {
            Some(value) => value,
            None => default.to_owned(),
        }
    }
}

#[derive(Default)]
struct MemoryStore {
    items: Vec<(u32, String)>,
}

impl Store for MemoryStore {
    #[structured]
    async fn get(&self, key: u32) -> Option<String> {
        self.items
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    #[structured]
    async fn put(&mut self, key: u32, value: String) {
        self.items.push((key, value));
    }
}

#[structured]
async fn fill<S: Store>(store: &mut S) -> String {
    store.put(1, "one".to_owned()).await;
    let one = store.get_or(1, "?").await;
    let two = store.get_or(2, "?").await;
    format!("{one} {two}")
}

fn main() {
    let mut store = MemoryStore::default();
    assert_eq!(scoro::run(fill(&mut store)), "one ?");
    assert_eq!(store.items.len(), 1);
}
