#![deny(warnings)]

use scoro::structured;

#[structured]
async fn free() -> u32 {
    1
}

mod inner {
    #[scoro::structured]
    pub async fn nested() {}

    pub struct Service;

    impl Service {
        #[scoro::structured]
        pub async fn method(&self) {}

        #[scoro::structured]
        pub async fn constructor() -> Self {
            Self
        }
    }

    #[scoro::structured]
    pub async fn r#match() {}

    #[scoro::structured]
    pub async fn with_block() -> String {
        format!("{:?}", async { 1 })
    }
}

fn main() {
    // The crate's name depends on how the case is built, so compare against `module_path!`.
    let name = |path: &str| format!("CoroutineCall({}::{path})", module_path!());
    assert_eq!(format!("{:?}", free()), name("free"));
    assert_eq!(format!("{:?}", inner::nested()), name("inner::nested"));
    assert_eq!(
        format!("{:?}", inner::Service.method()),
        name("inner::Service::method")
    );
    assert_eq!(
        format!("{:?}", inner::Service::constructor()),
        name("inner::Service::constructor")
    );
    assert_eq!(format!("{:?}", inner::r#match()), name("inner::match"));
    assert_eq!(
        scoro::run(inner::with_block()),
        name("inner::with_block::{async block}")
    );
    assert_eq!(scoro::run(free()), 1);
}
