use scoro::compat::plain;

fn main() {
    let _ = plain!(std::future::ready(1));
    let _ = plain!();
}
