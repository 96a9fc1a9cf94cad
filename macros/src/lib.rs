//! Procedural macros for scoro. Users depend on `scoro`, which re-exports these.
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn structured(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Placeholder.
#[proc_macro_attribute]
pub fn main(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
/// Placeholder.
#[proc_macro_attribute]
pub fn test(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
