//! What is built once per model (and dialect) and kept for the life of the process: a model's
//! plain `SELECT` and the SQL of the reads that depend on nothing else (a point read's
//! `SELECT … WHERE key = $1`, every row's `SELECT …`).
//!
//! Each value is made once and leaked (one per model, dialect and use: a handful of small
//! values a process), so that a read borrows it with no copy. Each thread looks it up in its
//! own list: no lock or shared counter that the runtime's threads would pass between them on
//! every read, and a handful of models is scanned faster than hashed. The process-wide list
//! keeps one value per key, whichever thread made it first.

use std::any::TypeId;
use std::cell::RefCell;
use std::sync::Mutex;
use std::thread::LocalKey;

use crate::async_database_functions::core::sql_dialect::Dialect;

/// Which of a model's kept values: the model's type, the dialect (`None` for what does not
/// depend on it) and the use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    model: TypeId,
    dialect: Option<Dialect>,
    purpose: Purpose,
}

/// What a kept value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `M::select()`, built (not rendered).
    Select,
    /// The SQL reading the row of one key.
    ByKey,
    /// The SQL reading every row.
    Every,
}

impl Key {
    /// The key of `M`'s value for `purpose` in `dialect`.
    pub(crate) fn of<M: 'static>(purpose: Purpose, dialect: Option<Dialect>) -> Self {
        Key {
            model: TypeId::of::<M>(),
            dialect,
            purpose,
        }
    }
}

/// A list of kept values of one type.
pub(crate) type List<T> = Vec<(Key, &'static T)>;

/// The value kept for `key`, looked up in this thread's list.
pub(crate) fn find<T: ?Sized + 'static>(
    local: &'static LocalKey<RefCell<List<T>>>,
    key: Key,
) -> Option<&'static T> {
    local.with(|list| scan(&list.borrow(), key))
}

/// Keeps `value` for `key`, unless another thread kept one first (that one is returned, and
/// `value` dropped), and adds it to this thread's list.
pub(crate) fn keep<T: ?Sized + Sync + 'static>(
    local: &'static LocalKey<RefCell<List<T>>>,
    global: &Mutex<List<T>>,
    key: Key,
    value: Box<T>,
) -> &'static T {
    let kept = {
        let mut list = global.lock().unwrap_or_else(|e| e.into_inner());
        match scan(&list, key) {
            Some(kept) => kept,
            None => {
                let kept: &'static T = Box::leak(value);
                list.push((key, kept));
                kept
            }
        }
    };
    local.with(|list| list.borrow_mut().push((key, kept)));
    kept
}

fn scan<T: ?Sized>(list: &List<T>, key: Key) -> Option<&'static T> {
    list.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static LOCAL: RefCell<List<str>> = const { RefCell::new(Vec::new()) };
    }
    static GLOBAL: Mutex<List<str>> = Mutex::new(Vec::new());

    struct A;
    struct B;

    #[test]
    fn one_value_per_key_whichever_thread_keeps_it_first() {
        let a = Key::of::<A>(Purpose::Every, Some(Dialect::Postgresql));
        assert_eq!(find(&LOCAL, a), None);
        let first = keep(&LOCAL, &GLOBAL, a, "first".into());
        assert_eq!(find(&LOCAL, a), Some("first"));
        // Another thread finds nothing in its own list, and keeping gives it the first value.
        let other = std::thread::spawn(move || {
            let none = find(&LOCAL, a).is_none();
            (none, keep(&LOCAL, &GLOBAL, a, "second".into()))
        })
        .join()
        .expect("thread");
        assert_eq!(other, (true, "first"));
        assert!(std::ptr::eq(first, other.1));
        // Other models, dialects and uses are other keys.
        for key in [
            Key::of::<B>(Purpose::Every, Some(Dialect::Postgresql)),
            Key::of::<A>(Purpose::Every, Some(Dialect::Sqlite)),
            Key::of::<A>(Purpose::ByKey, Some(Dialect::Postgresql)),
        ] {
            assert_eq!(find(&LOCAL, key), None);
        }
    }
}
