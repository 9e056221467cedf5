//! Related rows: relations declared on the derive, and eager loading in one query per level,
//! never one per row (N+1).
//!
//! A child declares its parent on its foreign-key field: `#[model(belongs_to = User)]` makes
//! the column a foreign key to `User`'s `pkid` (`references = "id"` names another column of
//! the parent; `on_delete = "cascade" | "set_null" | "restrict"` what deleting the parent does)
//! and implements [`BelongsTo<User>`](BelongsTo). The compiler checks both ends: a parent type
//! or a referenced column that does not exist does not compile. The other direction (a user
//! has many orders) follows from it; nothing to declare on the parent.
//!
//! | call | loads | queries |
//! |---|---|---|
//! | [`ops.load::<Order>(&users)`](DatabaseOperations::load) | each user's orders (has-many), one `Vec` per user | 1 |
//! | [`ops.load_parents::<User>(&orders)`](DatabaseOperations::load_parents) | each order's user (belongs-to), one `Option` per order | 1 |
//! | [`ops.load_through::<Link, Tag>(&users)`](DatabaseOperations::load_through) | many-to-many through a link model | 2 |
//!
//! Each is one `WHERE fk = ANY($1)` on PostgreSQL, or `IN (…)` lists chunked under the bind
//! limit elsewhere; results come grouped in the order of the rows given, children in the order
//! of their primary key. Nested levels chain: users → orders → lines is three queries. The
//! same calls run on a [`Session`] (inside a transaction, reading its own writes).
//!
//! ```
//! use dsg_lib::prelude::*;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "rel_doc_users")]
//! struct User {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(size = 50)]
//!     name: String,
//! }
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "rel_doc_orders")]
//! struct Order {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(belongs_to = User, on_delete = "cascade", size = 36, index)]
//!     user_id: String,
//!     total: i64,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<User>();
//! db.register::<Order>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! let ann = ops.create_one(User { base: SchemaBase::default(), name: "Ann".into() }).await?;
//! let bob = ops.create_one(User { base: SchemaBase::default(), name: "Bob".into() }).await?;
//! for total in [10, 20] {
//!     ops.create_one(Order { base: SchemaBase::default(), user_id: ann.base.pkid.clone(), total }).await?;
//! }
//!
//! let users = vec![ann, bob];
//! let orders: Vec<Vec<Order>> = ops.load::<Order>(&users).await?; // one query
//! assert_eq!(orders[0].len(), 2);
//! assert!(orders[1].is_empty());
//! let owners: Vec<Option<User>> = ops.load_parents::<User>(&orders[0]).await?;
//! assert!(owners.iter().all(|u| u.as_ref().map(|u| u.name.as_str()) == Some("Ann")));
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```

//!
//! A relation to a column the parent does not have does not compile (E0599, "no associated
//! item named `NOPE` found for struct `Team`", at the `references` value):
//!
//! ```compile_fail,E0599
//! use dsg_lib::prelude::*;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "teams")]
//! struct Team { #[model(primary_key)] id: i32 }
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "players")]
//! struct Player {
//!     #[model(primary_key)]
//!     id: i32,
//!     #[model(belongs_to = Team, references = "nope")]
//!     team_id: i32,
//! }
//! ```
//!
//! nor does one to a type that is not a model (E0277, "the trait bound `Team: Model` is not
//! satisfied"), nor `belongs_to = Team` without `references` when `Team` has no `pkid`:
//!
//! ```compile_fail,E0277
//! use dsg_lib::prelude::*;
//!
//! struct Team;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "players")]
//! struct Player {
//!     #[model(primary_key)]
//!     id: i32,
//!     #[model(belongs_to = Team)]
//!     team_id: i32,
//! }
//! ```

use std::borrow::Cow;
use std::collections::HashMap;

use sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement, Value};

use super::batch::rows_by_keys;
use super::database_operations::DatabaseOperations;
use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::core::row::RowRef;
use crate::async_database_functions::core::row_reader::RowReader;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::statements::model::{Col, Model};
use crate::async_database_functions::statements::row_key::{
    Key, KeyMap, SortKey, canonical_ref, distinct_keys, key_value,
};
use crate::async_database_functions::statements::session::Session;
use crate::async_database_functions::statements::statement::Statement;
use crate::async_database_functions::statements::telemetry::{Rows, operation_span, traced};

/// A child model's reference to its parent `P`: `FOREIGN_KEY` (a column of the child) holds
/// the value of the parent's `REFERENCES` column. `#[model(belongs_to = P)]` on the field
/// implements it.
pub trait BelongsTo<P: Model>: Model {
    /// The child's column that refers to the parent.
    const FOREIGN_KEY: Col<Self>;
    /// The parent's column it refers to (its primary key, unless `references` says otherwise).
    const REFERENCES: Col<P>;
}

/// A parent of `C`: every `P` that `C` [`BelongsTo`], implemented for it, so that
/// `ops.load::<Order>(&users)` names only the child.
pub trait HasMany<C: Model>: Model {
    /// `C`'s column that refers to this model.
    fn foreign_key() -> Col<C>;
    /// This model's column that `C` refers to.
    fn references() -> Col<Self>;
}

impl<P: Model, C: BelongsTo<P>> HasMany<C> for P {
    fn foreign_key() -> Col<C> {
        C::FOREIGN_KEY
    }
    fn references() -> Col<P> {
        C::REFERENCES
    }
}

impl DatabaseOperations {
    /// The children `C` of each of `parents` (has-many), in one query, one `Vec` per parent in
    /// the order given (empty for a parent without children), children in the order of their
    /// primary key.
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn load<'p, C: Model + Clone>(
        &self,
        parents: impl IntoIterator<Item = &'p (impl HasMany<C> + 'p)>,
    ) -> Result<Vec<Vec<C>>, DatabaseError> {
        let span = operation_span!("load", self.database().config(), Some(C::TABLE));
        let keys = parent_keys(self.database().config().dialect(), parents);
        traced!(span, self.load_by_keys::<C>(keys), |groups| {
            Rows::returned(groups.iter().map(Vec::len).sum())
        })
    }

    async fn load_by_keys<C: Model + Clone>(
        &self,
        (fk, keys): (Col<C>, Vec<Value>),
    ) -> Result<Vec<Vec<C>>, DatabaseError> {
        let keys = &keys;
        self.read(|mut session| async move { children_in(&mut session, fk, keys).await })
            .await
    }

    /// The parent `P` of each of `children` (belongs-to), in one query, one `Option` per child
    /// in the order given (`None` for a child whose reference is NULL or dangling).
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn load_parents<'c, P: Model + Clone>(
        &self,
        children: impl IntoIterator<Item = &'c (impl BelongsTo<P> + 'c)>,
    ) -> Result<Vec<Option<P>>, DatabaseError> {
        let span = operation_span!("load_parents", self.database().config(), Some(P::TABLE));
        let refs = child_refs(self.database().config().dialect(), children);
        traced!(span, self.parents_by_refs::<P>(refs), |found| {
            Rows::returned(found.iter().flatten().count())
        })
    }

    async fn parents_by_refs<P: Model + Clone>(
        &self,
        (references, refs): (Col<P>, Vec<Value>),
    ) -> Result<Vec<Option<P>>, DatabaseError> {
        let refs = &refs;
        self.read(|mut session| async move { parents_in(&mut session, references, refs).await })
            .await
    }

    /// Many-to-many: the `T`s each of `parents` is linked to through the link model `L` (which
    /// belongs to both), in two queries (the links, then the targets), one `Vec` per parent in
    /// the order given, in the links' primary-key order.
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn load_through<'p, L, T>(
        &self,
        parents: impl IntoIterator<Item = &'p (impl HasMany<L> + 'p)>,
    ) -> Result<Vec<Vec<T>>, DatabaseError>
    where
        L: BelongsTo<T> + Clone,
        T: Model + Clone,
    {
        let span = operation_span!("load_through", self.database().config(), Some(T::TABLE));
        let keys = parent_keys(self.database().config().dialect(), parents);
        let run = async {
            let links = self.load_by_keys::<L>(keys).await?;
            let refs = child_refs(self.database().config().dialect(), links.iter().flatten());
            let targets = self.parents_by_refs::<T>(refs).await?;
            Ok(regroup(&links, targets))
        };
        traced!(span, run, |groups: &Vec<Vec<T>>| Rows::returned(
            groups.iter().map(Vec::len).sum()
        ))
    }
}

/// `SELECT <P's columns>, <C's columns> FROM p JOIN c ON c.<fk> = p.<referenced>`: a parent
/// and each of its children, as [`DatabaseOperations::read_joined`] decodes it. Every column
/// is table-qualified and aliased `<table>__<column>`, so columns of the same name on both
/// sides (`pkid`, `date_created`) stay apart; filter and order with either model's typed
/// columns (`Order::TOTAL.gt(10)`, `.order_by_expr(User::NAME.expr(), Order::Asc)`).
pub fn join<P: HasMany<C>, C: Model>() -> SelectStatement {
    joined::<P, C>(JoinType::InnerJoin)
}

/// [`join`] as a `LEFT JOIN`: parents without children come once, with `None`
/// ([`DatabaseOperations::read_left_joined`]).
pub fn left_join<P: HasMany<C>, C: Model>() -> SelectStatement {
    joined::<P, C>(JoinType::LeftJoin)
}

fn joined<P: HasMany<C>, C: Model>(kind: JoinType) -> SelectStatement {
    let mut select = Query::select();
    for (table, columns) in [(P::TABLE, P::columns()), (C::TABLE, C::columns())] {
        for column in columns {
            select.expr_as(
                Expr::col((table, column.name)),
                Alias::new(format!("{table}__{}", column.name)),
            );
        }
    }
    select.from(P::TABLE).join(
        kind,
        C::TABLE,
        Expr::col(P::foreign_key().qualified()).equals(P::references().qualified()),
    );
    select
}

/// A row of [`join`]: the parent's columns, then the child's.
struct Joined<P, C>(P, C);

impl<P: Model, C: Model> FromRow for Joined<P, C> {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        let mut reader = RowReader::new(row);
        let parent = P::read_columns(&mut reader)?;
        let child = C::read_columns(&mut reader)?;
        Ok(Joined(parent, child))
    }
}

/// A row of [`left_join`]: the child is `None` when its primary key is NULL (no child).
struct LeftJoined<P, C>(P, Option<C>);

impl<P: Model, C: Model> FromRow for LeftJoined<P, C> {
    fn from_row(row: RowRef<'_>) -> Result<Self, DatabaseError> {
        let mut reader = RowReader::new(row);
        let parent = P::read_columns(&mut reader)?;
        let key = C::columns().iter().position(|c| c.primary_key).unwrap_or(0);
        let absent = row
            .is_null(reader.position() + key)
            .map_err(|e| DatabaseError::decode(e.to_string()))?;
        let child = if absent {
            None
        } else {
            Some(C::read_columns(&mut reader)?)
        };
        Ok(LeftJoined(parent, child))
    }
}

impl DatabaseOperations {
    /// The rows of a [`join`] (filtered and ordered as the caller likes), each as a parent and
    /// one of its children.
    ///
    /// ```
    /// # use dsg_lib::prelude::*;
    /// # use dsg_lib::async_database_functions::relations::{join, left_join};
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "join_doc_users")]
    /// # struct User { #[model(flatten)] base: SchemaBase, #[model(size = 50)] name: String }
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "join_doc_orders")]
    /// # struct Order { #[model(flatten)] base: SchemaBase, #[model(belongs_to = User, size = 36)] user_id: String, total: i64 }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// # db.register::<User>();
    /// # db.register::<Order>();
    /// # db.create_tables().await?;
    /// # let ops = DatabaseOperations::new(db);
    /// let ann = ops.create_one(User { base: SchemaBase::default(), name: "Ann".into() }).await?;
    /// ops.create_one(User { base: SchemaBase::default(), name: "Bob".into() }).await?;
    /// ops.create_one(Order { base: SchemaBase::default(), user_id: ann.base.pkid.clone(), total: 30 }).await?;
    ///
    /// let mut select = join::<User, Order>();
    /// select.and_where(Order::TOTAL.gt(10));
    /// let rows: Vec<(User, Order)> = ops.read_joined(&select).await?;
    /// assert_eq!((rows[0].0.name.as_str(), rows[0].1.total), ("Ann", 30));
    /// assert_ne!(rows[0].0.base.pkid, rows[0].1.base.pkid); // same-named columns kept apart
    ///
    /// let all: Vec<(User, Option<Order>)> = ops.read_left_joined(&left_join::<User, Order>()).await?;
    /// assert_eq!(all.iter().filter(|(_, o)| o.is_none()).count(), 1); // Bob
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn read_joined<P: HasMany<C>, C: Model>(
        &self,
        select: impl Statement,
    ) -> Result<Vec<(P, C)>, DatabaseError> {
        let rows: Vec<Joined<P, C>> = self.read_query(select).await?;
        Ok(rows.into_iter().map(|Joined(p, c)| (p, c)).collect())
    }

    /// The rows of a [`left_join`]: a parent with one of its children, or with `None` once
    /// when it has none.
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn read_left_joined<P: HasMany<C>, C: Model>(
        &self,
        select: impl Statement,
    ) -> Result<Vec<(P, Option<C>)>, DatabaseError> {
        let rows: Vec<LeftJoined<P, C>> = self.read_query(select).await?;
        Ok(rows.into_iter().map(|LeftJoined(p, c)| (p, c)).collect())
    }
}

impl DatabaseOperations {
    /// Creates `parent` and the children `children` builds from it (as stored, so with its
    /// generated key), in one transaction (retried as [`transaction`] is; the children are
    /// one batched insert, chunked as `create_many` chunks); returns both as stored. Every
    /// child must refer to the parent, else nothing is written.
    ///
    /// ```
    /// # use dsg_lib::prelude::*;
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "cw_doc_users")]
    /// # struct User { #[model(flatten)] base: SchemaBase, #[model(size = 50)] name: String }
    /// # #[derive(Model, Debug, Clone)]
    /// # #[model(table = "cw_doc_orders")]
    /// # struct Order { #[model(flatten)] base: SchemaBase, #[model(belongs_to = User, size = 36)] user_id: String, total: i64 }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// # db.register::<User>();
    /// # db.register::<Order>();
    /// # db.create_tables().await?;
    /// # let ops = DatabaseOperations::new(db);
    /// let (ann, orders) = ops
    ///     .create_with_children(User { base: SchemaBase::default(), name: "Ann".into() }, |ann| {
    ///         [10, 20].map(|total| Order { base: SchemaBase::default(), user_id: ann.base.pkid.clone(), total }).to_vec()
    ///     })
    ///     .await?;
    /// assert_eq!(ops.load::<Order>(&[ann]).await?[0].len(), orders.len());
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// [`transaction`]: super::async_database::AsyncDatabase::transaction
    ///
    /// # Errors
    ///
    /// Invalid input when a child does not refer to the parent; what the inserts can fail
    /// with (nothing is written then).
    pub async fn create_with_children<P, C, F>(
        &self,
        parent: P,
        children: F,
    ) -> Result<(P, Vec<C>), DatabaseError>
    where
        P: HasMany<C> + Clone,
        C: Model,
        F: Fn(&P) -> Vec<C> + Send + Sync + 'static,
    {
        let span = operation_span!(
            "create_with_children",
            self.database().config(),
            Some(C::TABLE)
        );
        let dialect = self.database().config().dialect();
        let data = (parent, std::sync::Arc::new(children));
        let run = self
            .database()
            .transaction_with(data, move |tx, (parent, children)| {
                Box::pin(async move {
                    let stored = tx.create_one(parent).await?;
                    let made = children(&stored);
                    let key = key_value(dialect, &stored, P::references().name());
                    let fk = P::foreign_key().name();
                    if let Some(n) = made.iter().position(|c| key_value(dialect, c, fk) != key) {
                        return Err(DatabaseError::invalid_input(format!(
                            "create_with_children: child {n} ({}) does not refer to the new {} row \
                         through {fk}",
                            C::TABLE,
                            P::TABLE
                        )));
                    }
                    let made = tx.create_many(made).await?;
                    Ok((stored, made))
                })
            });
        traced!(span, run, |(_, c): &(P, Vec<C>)| Rows::affected(
            c.len() + 1
        ))
    }
}

impl Session {
    /// [`DatabaseOperations::load`] in this session (and its transaction).
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn load<'p, C: Model + Clone>(
        &mut self,
        parents: impl IntoIterator<Item = &'p (impl HasMany<C> + 'p)>,
    ) -> Result<Vec<Vec<C>>, DatabaseError> {
        let (fk, keys) = parent_keys(self.config().dialect(), parents);
        children_in(self, fk, &keys).await
    }

    /// [`DatabaseOperations::load_parents`] in this session (and its transaction).
    ///
    /// # Errors
    ///
    /// What a read can fail with.
    pub async fn load_parents<'c, P: Model + Clone>(
        &mut self,
        children: impl IntoIterator<Item = &'c (impl BelongsTo<P> + 'c)>,
    ) -> Result<Vec<Option<P>>, DatabaseError> {
        let (references, refs) = child_refs(self.config().dialect(), children);
        parents_in(self, references, &refs).await
    }
}

/// The column of `M` a typed column names (the derive made it from one of `M`'s fields).
fn column_of<M: Model>(col: Col<M>) -> Result<&'static Column, DatabaseError> {
    M::column(col.name()).ok_or_else(|| {
        DatabaseError::invalid_input(format!("{} has no column {:?}", M::TABLE, col.name()))
    })
}

/// The children's foreign key and the parents' referenced values, one per parent in order.
fn parent_keys<'p, C: Model, P: HasMany<C> + 'p>(
    dialect: Dialect,
    parents: impl IntoIterator<Item = &'p P>,
) -> (Col<C>, Vec<Value>) {
    let references = P::references();
    let keys = parents
        .into_iter()
        .map(|p| key_value(dialect, p, references.name()))
        .collect();
    (P::foreign_key(), keys)
}

/// The parents' referenced column and each child's reference, one per child in order.
fn child_refs<'c, P: Model, C: BelongsTo<P> + 'c>(
    dialect: Dialect,
    children: impl IntoIterator<Item = &'c C>,
) -> (Col<P>, Vec<Value>) {
    let refs = children
        .into_iter()
        .map(|c| key_value(dialect, c, C::FOREIGN_KEY.name()))
        .collect();
    (C::REFERENCES, refs)
}

/// Whether a value is SQL NULL (a reference to nothing).
fn is_null(value: &Value) -> bool {
    !value.is_some()
}

/// The children whose `fk` is one of `keys` (one per parent, in order), grouped per parent,
/// each group in the order of the children's primary key.
///
/// Each distinct key gets a slot (one hash of each key given); each child is looked up by its
/// foreign key (unless it has the previous child's) and moved into its slot's group, sized
/// beforehand; a group already in primary-key order, as a server reading the foreign key's
/// index returns it, is not sorted again (see docs/performance.md, *Eager loading*).
async fn children_in<C: Model + Clone>(
    session: &mut Session,
    fk: Col<C>,
    keys: &[Value],
) -> Result<Vec<Vec<C>>, DatabaseError> {
    let column = column_of(fk)?;
    // The slot of each key given (`None` for NULL), the distinct keys in the order first given.
    let mut slot_of: HashMap<Cow<'_, Value>, usize> = HashMap::with_capacity(keys.len());
    let mut distinct: Vec<Value> = Vec::with_capacity(keys.len());
    let slots: Vec<Option<usize>> = keys
        .iter()
        .map(|key| {
            if is_null(key) {
                return None;
            }
            let next = slot_of.len();
            let slot = *slot_of.entry(canonical_ref(key)).or_insert_with_key(|key| {
                distinct.push(key.as_ref().clone());
                next
            });
            Some(slot)
        })
        .collect();
    let found = rows_by_keys::<C>(session, column, &distinct).await?;
    let dialect = session.config().dialect();
    let pk: Vec<&'static str> = C::columns()
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name)
        .collect();
    let sort_key = |child: &C| SortKeys::of(&pk, |name| child.column_value(name, dialect));
    // Each child's slot; a child whose key matches none given (which the server's comparison
    // may allow, e.g. another letter case) belongs to no parent. Children of one parent come
    // one after the other when the server reads the foreign key's index: the previous child's
    // slot is reused without hashing the key again.
    let mut previous: Option<(Value, Option<usize>)> = None;
    let child_slots: Vec<Option<usize>> = found
        .iter()
        .map(|child| {
            let key = key_value(dialect, child, column.name);
            if let Some((previous_key, slot)) = &previous
                && *previous_key == key
            {
                return *slot;
            }
            let slot = slot_of.get(&key).copied();
            previous = Some((key, slot));
            slot
        })
        .collect();
    let mut groups: Vec<Group<C>> = (0..distinct.len()).map(|_| Group::default()).collect();
    for slot in child_slots.iter().flatten() {
        groups[*slot].len += 1;
    }
    for (child, slot) in found.into_iter().zip(child_slots) {
        let Some(slot) = slot else { continue };
        let group = &mut groups[slot];
        if group.children.capacity() == 0 {
            group.children.reserve_exact(group.len);
        }
        let order = sort_key(&child);
        if group.last.as_ref().is_some_and(|last| *last > order) {
            group.sorted = false;
        }
        group.last = Some(order);
        group.children.push(child);
    }
    // How many times each slot is still asked for: a parent given twice gets its children each
    // time, moved out the last time.
    let mut left = vec![0usize; distinct.len()];
    for slot in slots.iter().flatten() {
        left[*slot] += 1;
    }
    Ok(slots
        .into_iter()
        .map(|slot| {
            let Some(slot) = slot else {
                return Vec::new();
            };
            let group = &mut groups[slot];
            if !group.sorted {
                group.children.sort_by_cached_key(|child| sort_key(child));
                group.sorted = true;
            }
            left[slot] -= 1;
            if left[slot] == 0 {
                std::mem::take(&mut group.children)
            } else {
                group.children.clone()
            }
        })
        .collect())
}

/// The children of one parent key in [`children_in`]: how many, whether they came in
/// primary-key order, and the last one's key.
struct Group<C> {
    children: Vec<C>,
    len: usize,
    sorted: bool,
    last: Option<SortKeys>,
}

impl<C> Default for Group<C> {
    fn default() -> Self {
        Group {
            children: Vec::new(),
            len: 0,
            sorted: true,
            last: None,
        }
    }
}

/// The parents whose `references` column is one of `refs` (one per child), one per child.
async fn parents_in<P: Model + Clone>(
    session: &mut Session,
    references: Col<P>,
    refs: &[Value],
) -> Result<Vec<Option<P>>, DatabaseError> {
    let column = column_of(references)?;
    let distinct: Vec<Value> = distinct_keys(refs.iter().filter(|k| !is_null(k)).cloned());
    let found = rows_by_keys::<P>(session, column, &distinct).await?;
    let dialect = session.config().dialect();
    let by_ref: KeyMap<P> = found
        .into_iter()
        .map(|p| (Key::from_value(key_value(dialect, &p, column.name)), p))
        .collect();
    Ok(refs
        .iter()
        .map(|r| by_ref.get(&Key::of(r)).cloned())
        .collect())
}

/// A row's primary key as it sorts: one column without an allocation, several in a `Vec`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKeys {
    One(Option<SortKey>),
    Many(Vec<Option<SortKey>>),
}

impl SortKeys {
    fn of(columns: &[&'static str], value: impl Fn(&str) -> Option<Value>) -> SortKeys {
        let key = |name: &str| value(name).as_ref().map(SortKey::of);
        match columns {
            [one] => SortKeys::One(key(one)),
            many => SortKeys::Many(many.iter().map(|c| key(c)).collect()),
        }
    }
}

/// The targets of each parent's links, in the links' order.
fn regroup<L, T: Clone>(links: &[Vec<L>], targets: Vec<Option<T>>) -> Vec<Vec<T>> {
    let mut targets = targets.into_iter();
    links
        .iter()
        .map(|group| {
            group
                .iter()
                .filter_map(|_| targets.next().flatten())
                .collect()
        })
        .collect()
}
