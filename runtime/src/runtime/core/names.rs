//! Task names, interned: a task's slot holds a `u32` instead of the two `&'static str` (32
//! bytes) of its [`TaskName`] and the place it was started at (`Location`, 8 more).
//!
//! Invariants:
//! - An id, once given out, names the same `TaskName` for the life of the run; the table only
//!   grows. It holds one entry per distinct pair of string *addresses* and start location, so
//!   its size is bounded by the program's code (names are `&'static str`: literals and
//!   `type_name` results; locations are `&'static Location`), not by the number of tasks.
//! - The direct-mapped cache in front of the map is only a shortcut: an entry is used only when
//!   all addresses and lengths match, and a miss falls back to the map.

use crate::coroutine::TaskName;
use std::collections::HashMap;
use std::panic::Location;

/// A task's name and the place it was started at, if known.
pub(crate) type Named = (TaskName, Option<&'static Location<'static>>);

/// How many recently seen names the cache remembers (a power of two).
const CACHE: usize = 64;

/// A name's identity: the addresses and lengths of its two strings, and the location's address.
type Key = (usize, usize, usize, usize, usize);

#[inline(always)]
fn key((name, location): Named) -> Key {
    (
        name.prefix.as_ptr().addr(),
        name.prefix.len(),
        name.name.as_ptr().addr(),
        name.name.len(),
        location.map_or(0, |l| std::ptr::from_ref(l).addr()),
    )
}

/// Interned task names of one run.
#[derive(Debug, Default)]
pub(super) struct Names {
    names: Vec<Named>,
    ids: HashMap<Key, u32>,
    cache: Vec<(Key, u32)>,
}

impl Names {
    /// The id of `name`, adding it if it is new.
    #[inline]
    pub(super) fn intern(&mut self, name: Named) -> u32 {
        let k = key(name);
        let slot = (k.2 >> 3 ^ k.0 >> 5 ^ k.4 >> 4) & (CACHE - 1);
        if let Some(&(cached, id)) = self.cache.get(slot)
            && cached == k
        {
            return id;
        }
        self.intern_slow(name, k, slot)
    }

    #[cold]
    fn intern_slow(&mut self, name: Named, k: Key, slot: usize) -> u32 {
        let id = match self.ids.get(&k) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.names.len()).expect("too many distinct task names");
                self.names.push(name);
                self.ids.insert(k, id);
                id
            }
        };
        if self.cache.is_empty() {
            self.cache = vec![((0, usize::MAX, 0, usize::MAX, 0), 0); CACHE];
        }
        self.cache[slot] = (k, id);
        id
    }

    /// The name (and start location) with id `id`.
    pub(super) fn get(&self, id: u32) -> Named {
        self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_gets_the_same_id_and_different_names_different_ids() {
        let mut names = Names::default();
        let a = (TaskName::new("m", "a"), None);
        let b = (TaskName::new("m", "b"), None);
        let ia = names.intern(a);
        let ib = names.intern(b);
        assert_ne!(ia, ib);
        assert_eq!(names.intern(a), ia);
        assert_eq!(names.get(ia), a);
        assert_eq!(names.get(ib), b);
        // Many names that collide in the cache still keep their ids. (Substrings of one
        // static string: 500 distinct `&'static str` without leaking memory.)
        static TEXT: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let many: Vec<&'static str> = (0..500)
            .map(|i| &TEXT[i % 50..i % 50 + 1 + i / 50])
            .collect();
        // (One literal for the prefix: equal literals at different places may have different
        // addresses, and then they are different entries, which is fine.)
        let p = "p";
        let ids: Vec<u32> = many
            .iter()
            .map(|n| names.intern((TaskName::new(p, n), None)))
            .collect();
        let distinct: std::collections::HashSet<u32> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), many.len());
        // The same name started at two places is two entries.
        let here = Location::caller();
        let at = names.intern((TaskName::new(p, many[0]), Some(here)));
        assert_ne!(at, ids[0]);
        assert_eq!(names.get(at).1, Some(here));
        for (n, id) in many.iter().zip(&ids) {
            assert_eq!(names.intern((TaskName::new(p, n), None)), *id);
            assert_eq!(names.get(*id).0.name, *n);
        }
    }
}
