//! Key values as batch work compares them: [`Key`] (hashed and ordered without touching a
//! `sea_query::Value` for integer keys), [`KeyMap`], and the canonical form of a value
//! (integers of every width as one).

use std::cmp::Ordering;
use std::collections::HashMap;

use sea_query::Value;

use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::statements::model::Model;

/// A key as it is compared: integers of every width as one, so that an `i32` id finds the row
/// of an `i64` key column (the model's own value) and the other way round.
pub(crate) fn canonical(value: &Value) -> Value {
    canonical_ref(value).into_owned()
}

/// [`canonical`] without a copy when `value` is already in its canonical form (text, `i64`,
/// UUID: nearly every key).
pub(crate) fn canonical_ref(value: &Value) -> std::borrow::Cow<'_, Value> {
    match value {
        Value::String(_) | Value::BigInt(_) | Value::Uuid(_) => std::borrow::Cow::Borrowed(value),
        other => std::borrow::Cow::Owned(into_canonical(other.clone())),
    }
}

/// [`canonical`] of an owned value, moved rather than copied.
pub(crate) fn into_canonical(value: Value) -> Value {
    match value {
        Value::TinyInt(v) => Value::BigInt(v.map(i64::from)),
        Value::SmallInt(v) => Value::BigInt(v.map(i64::from)),
        Value::Int(v) => Value::BigInt(v.map(i64::from)),
        Value::TinyUnsigned(v) => Value::BigInt(v.map(i64::from)),
        Value::SmallUnsigned(v) => Value::BigInt(v.map(i64::from)),
        Value::Unsigned(v) => Value::BigInt(v.map(i64::from)),
        Value::BigUnsigned(Some(v)) if i64::try_from(v).is_ok() => {
            Value::BigInt(i64::try_from(v).ok())
        }
        Value::Char(v) => Value::String(v.map(String::from)),
        other => other,
    }
}

/// A key value as it sorts.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortKey {
    Int(i64),
    Text(String),
}

impl SortKey {
    pub(crate) fn of(value: &Value) -> SortKey {
        match canonical(value) {
            Value::BigInt(Some(n)) => SortKey::Int(n),
            Value::String(Some(s)) => SortKey::Text(s),
            Value::Uuid(Some(u)) => SortKey::Text(u.to_string()),
            other => SortKey::Text(format!("{other:?}")),
        }
    }
}

/// A key value as batch work hashes, compares and orders it: an integer of any width (the
/// common key) as an `i64`, anything else in its [`canonical`] form. Hashing an integer key
/// this way costs a few instructions; hashing a `sea_query::Value` costs a hundred or more.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Int(i64),
    Other(Value),
}

impl Key {
    /// The key of `value`, copied only when it is not an integer.
    pub(crate) fn of(value: &Value) -> Key {
        match Key::int(value) {
            Some(n) => Key::Int(n),
            None => Key::Other(canonical(value)),
        }
    }

    /// The key of an owned value, moved rather than copied.
    pub(crate) fn from_value(value: Value) -> Key {
        match Key::int(&value) {
            Some(n) => Key::Int(n),
            None => Key::Other(into_canonical(value)),
        }
    }

    fn int(value: &Value) -> Option<i64> {
        match *value {
            Value::TinyInt(Some(n)) => Some(n.into()),
            Value::SmallInt(Some(n)) => Some(n.into()),
            Value::Int(Some(n)) => Some(n.into()),
            Value::BigInt(Some(n)) => Some(n),
            Value::TinyUnsigned(Some(n)) => Some(n.into()),
            Value::SmallUnsigned(Some(n)) => Some(n.into()),
            Value::Unsigned(Some(n)) => Some(n.into()),
            Value::BigUnsigned(Some(n)) => i64::try_from(n).ok(),
            _ => None,
        }
    }
}

/// Integers in numeric order, before every other key; other keys in the order of their
/// [`SortKey`] (a total order: two batches sorted by it lock shared rows in the same order).
impl Ord for Key {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Int(_), Key::Other(_)) => Ordering::Less,
            (Key::Other(_), Key::Int(_)) => Ordering::Greater,
            (Key::Other(a), Key::Other(b)) => SortKey::of(a).cmp(&SortKey::of(b)),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A map keyed by [`Key`]s: foldhash, seeded per process, not SipHash.
pub(crate) type KeyMap<V> = HashMap<Key, V, foldhash::fast::RandomState>;

/// A [`KeyMap`] with room for `n` keys.
pub(crate) fn key_map<V>(n: usize) -> KeyMap<V> {
    KeyMap::with_capacity_and_hasher(n, Default::default())
}

/// The keys once each, in the order first given.
pub(crate) fn distinct_keys(keys: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen: std::collections::HashSet<Key, foldhash::fast::RandomState> =
        std::collections::HashSet::with_capacity_and_hasher(keys.size_hint().0, Default::default());
    keys.filter(|k| seen.insert(Key::of(k))).collect()
}

/// The value of `column` in `model`, as [`canonical`] compares it (NULL when the model has no
/// such column).
pub(crate) fn key_value<M: Model>(dialect: Dialect, model: &M, column: &str) -> Value {
    model
        .column_value(column, dialect)
        .map_or(Value::Bool(None), into_canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_width_are_one_key() {
        assert_eq!(
            Key::of(&Value::Int(Some(7))),
            Key::of(&Value::BigInt(Some(7)))
        );
        assert_eq!(Key::of(&Value::SmallUnsigned(Some(7))), Key::Int(7));
        assert_eq!(
            Key::of(&Value::Char(Some('a'))),
            Key::of(&Value::String(Some("a".into())))
        );
        assert_ne!(Key::of(&Value::Int(None)), Key::of(&Value::Int(Some(0))));
        assert!(Key::Int(-3) < Key::Int(2));
        assert!(Key::Int(i64::MAX) < Key::of(&Value::String(Some("0".into()))));
        assert!(
            Key::of(&Value::String(Some("a".into()))) < Key::of(&Value::String(Some("b".into())))
        );
    }
}
