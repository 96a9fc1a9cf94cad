//! A vector that grows by fixed-size pages instead of doubling.
//!
//! The scheduler keeps one slot per live task; with 100,000 tasks a doubling `Vec` would hold up
//! to twice the memory the tasks need and copy every slot when it grows. Pages of `PAGE` slots
//! are allocated as needed and never move, so the overhead is at most one partly used page.
//!
//! Invariant: every page but the last is full; indices are `u32` and stable.

use std::ops::{Index, IndexMut};

const PAGE_BITS: u32 = 8;
const PAGE: usize = 1 << PAGE_BITS;

#[derive(Debug)]
pub(crate) struct PagedVec<T> {
    pages: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for PagedVec<T> {
    fn default() -> Self {
        PagedVec {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T> PagedVec<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value` and returns its index.
    pub(crate) fn push(&mut self, value: T) -> u32 {
        let index = u32::try_from(self.len).expect("more than u32::MAX slots");
        if self.len.is_multiple_of(PAGE) {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        self.pages
            .last_mut()
            .expect("a page was just added")
            .push(value);
        self.len += 1;
        index
    }

    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&T> {
        self.pages
            .get((index >> PAGE_BITS) as usize)
            .and_then(|p| p.get(index as usize & (PAGE - 1)))
    }

    /// The slots with their indices, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.pages
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, t)| (i as u32, t))
    }
}

impl<T> Index<u32> for PagedVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, index: u32) -> &T {
        &self.pages[(index >> PAGE_BITS) as usize][index as usize & (PAGE - 1)]
    }
}

impl<T> IndexMut<u32> for PagedVec<T> {
    #[inline]
    fn index_mut(&mut self, index: u32) -> &mut T {
        &mut self.pages[(index >> PAGE_BITS) as usize][index as usize & (PAGE - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fill_in_order_and_indices_are_stable() {
        let mut v = PagedVec::default();
        for i in 0..1000u32 {
            assert_eq!(v.push(i * 2), i);
        }
        assert_eq!(v.len(), 1000);
        assert_eq!(v[999], 1998);
        v[300] = 7;
        assert_eq!(v.get(300), Some(&7));
        assert_eq!(v.get(1000), None);
        assert_eq!(v.iter().last(), Some((999, &1998)));
        assert_eq!(v.pages.len(), 4);
    }
}
