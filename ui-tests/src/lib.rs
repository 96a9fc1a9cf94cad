//! trybuild cases for scoro live in `tests/`.
