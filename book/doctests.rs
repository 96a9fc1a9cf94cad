//! Compiles and runs the Rust snippets of the scoro book as doctests, so that every example in
//! the book builds and runs against the current code (`cargo test -p scoro-book`).
//!
//! Each chapter is included as the documentation of an empty module; rustdoc turns its fenced
//! Rust blocks into doctests.

macro_rules! chapters {
    ($($module:ident => $file:literal),* $(,)?) => {
        $(
            #[doc = include_str!(concat!("src/", $file))]
            pub mod $module {}
        )*
    };
}

chapters! {
    introduction => "introduction.md",
    why_no_futures => "why-no-futures.md",
    structured_functions => "structured-functions.md",
    nurseries => "nurseries.md",
    cancel_scopes => "cancel-scopes.md",
    cancellation_is_an_error => "cancellation-is-an-error.md",
    coordinating_tasks => "coordinating-tasks.md",
    io_and_networking => "io-and-networking.md",
    processes_and_files => "processes-and-files.md",
    threads => "threads.md",
    signals => "signals.md",
    reliability => "reliability.md",
    foreign_futures => "foreign-futures.md",
    writing_primitives => "writing-primitives.md",
    testing => "testing.md",
    observability => "observability.md",
    readme => "../../README.md",
}
