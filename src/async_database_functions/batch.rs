//! Batch work by primary key: [`DatabaseOperations::read_by_pks`] reads the rows of many keys in
//! one statement, [`DatabaseOperations::update_many`] writes many rows, each with its own
//! values, in one statement where the backend allows. The same on a caller's
//! [`Session`] or transaction.
//!
//! | backend | `read_by_pks` | `update_many` |
//! |---|---|---|
//! | PostgreSQL, CockroachDB | `WHERE key = ANY($1)`, one array parameter | `UPDATE … FROM unnest($1, $2, …)`, one array per column |
//! | MySQL / MariaDB | `WHERE key IN (?, …)`, chunked under the bind limit | `UPDATE … SET c = CASE key WHEN ? THEN ? … END WHERE key IN (…)`, chunked |
//! | SQLite | `WHERE key IN (?, …)`, chunked | one prepared `UPDATE … WHERE key = ?` per row, in one transaction |
//!
//! ```
//! use dsg_lib::prelude::*;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "batch_doc_worlds")]
//! struct World {
//!     #[model(primary_key)]
//!     id: i32,
//!     randomnumber: i32,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<World>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! ops.create_many((1..=10).map(|id| World { id, randomnumber: id * 10 }).collect()).await?;
//!
//! // Rows in the order of the ids given, `None` for an id with no row.
//! let worlds: Vec<Option<World>> = ops.read_by_pks::<World>([3, 99, 1, 3]).await?;
//! assert_eq!(
//!     worlds.iter().map(|w| w.as_ref().map(|w| w.randomnumber)).collect::<Vec<_>>(),
//!     [Some(30), None, Some(10), Some(30)]
//! );
//!
//! // Many rows, each with its own values, in one statement; nothing read back.
//! let changed: Vec<World> = worlds.into_iter().flatten().map(|w| World { randomnumber: 7, ..w }).collect();
//! assert_eq!(ops.update_many_no_return(changed).await?, 2);
//! assert_eq!(ops.read_by_pk::<World>(1).await?.map(|w| w.randomnumber), Some(7));
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```

use sea_query::{Expr, Query, Value, Values};

use super::database_operations::DatabaseOperations;
use super::dialect;
use super::topology::retry::retrying;
use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::statements::bulk_insert::BulkRendered;
use crate::async_database_functions::statements::model::Model;
use crate::async_database_functions::statements::session::Session;
use crate::async_database_functions::statements::statement::{Rendered, Statement};
use crate::async_database_functions::statements::telemetry::{Rows, operation_span, traced};
use crate::async_database_functions::statements::writes::single_key;

impl DatabaseOperations {
    /// The rows of `M` whose primary keys are `ids`, in one statement (`= ANY($1)` on
    /// PostgreSQL; `IN (…)` elsewhere, in as many statements as the backend's bind limit
    /// needs), as one `Option` per id given, in the order given: `None` for an id with no row,
    /// and a repeated id gets its row each time.
    ///
    /// # Errors
    ///
    /// Invalid input when `M` has no primary key or a composite one; what a read can fail with.
    pub async fn read_by_pks<M: Model + Clone>(
        &self,
        ids: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Result<Vec<Option<M>>, DatabaseError> {
        let span = operation_span!("read_by_pks", self.database().config(), Some(M::TABLE));
        let ids: Vec<Value> = ids.into_iter().map(Into::into).collect();
        traced!(span, self.read_by_pks_untraced::<M>(&ids), |rows| {
            Rows::returned(rows.iter().flatten().count())
        })
    }

    async fn read_by_pks_untraced<M: Model + Clone>(
        &self,
        ids: &[Value],
    ) -> Result<Vec<Option<M>>, DatabaseError> {
        let key = single_key::<M>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let distinct = distinct_keys(ids.iter().cloned());
        let distinct = &distinct;
        let found = self
            .read(|mut session| async move { rows_by_keys::<M>(&mut session, key, distinct).await })
            .await?;
        Ok(in_order_of(
            self.database().config().dialect(),
            key,
            ids,
            found,
        ))
    }

    /// Updates many rows of `M`, each to the values of its model (every column but the
    /// primary key and `date_created`; `date_updated` stamped), in one statement where the
    /// backend allows (see the [module](self) table), and returns them as stored, in the order
    /// given. All rows or none: when a model's key has no row, nothing is written and the
    /// error is not-found. A key given twice is written once, with the last of its models.
    /// Retried like the other writes.
    ///
    /// # Errors
    ///
    /// Not found as above; invalid input when `M` has no single primary key; what a write can
    /// fail with (a constraint violation: nothing of the batch stays).
    pub async fn update_many<M: Model + Clone>(
        &self,
        models: Vec<M>,
    ) -> Result<Vec<M>, DatabaseError> {
        let span = operation_span!("update_many", self.database().config(), Some(M::TABLE));
        traced!(span, self.update_many_untraced::<M>(models), |rows| {
            Rows::affected(rows.len())
        })
    }

    /// [`update_many`](Self::update_many) without reading the rows back: the number of rows
    /// updated (each distinct key once).
    ///
    /// # Errors
    ///
    /// As [`update_many`](Self::update_many).
    pub async fn update_many_no_return<M: Model + Clone>(
        &self,
        models: Vec<M>,
    ) -> Result<u64, DatabaseError> {
        let span = operation_span!(
            "update_many_no_return",
            self.database().config(),
            Some(M::TABLE)
        );
        traced!(
            span,
            async {
                let dialect = self.database().config().dialect();
                let plan = UpdateManyPlan::new::<M>(dialect, models, true)?;
                // One statement that updates every row or none needs no transaction.
                let transaction = !plan.one_statement();
                let db = self.database();
                retrying!(db, async {
                    let mut session = db.write_session(transaction).await?;
                    if transaction {
                        // Under `AUTOCOMMIT` too: the statements commit together or not at all.
                        session.ensure_transaction().await?;
                    }
                    let updated = plan.run::<M>(&mut session).await?;
                    session.commit().await?;
                    Ok(updated)
                })
            },
            |n| Rows::Affected(*n),
        )
    }

    /// [`update_one`](Self::update_one) without reading the row back: one `UPDATE … WHERE
    /// key = ?`, the values checked against the model as `update_one` checks them.
    ///
    /// # Errors
    ///
    /// Not found when no row has that id; invalid input as `update_one`.
    pub async fn update_one_no_return<M: Model>(
        &self,
        record_id: impl Into<Value>,
        new_values: serde_json::Value,
    ) -> Result<(), DatabaseError> {
        let span = operation_span!(
            "update_one_no_return",
            self.database().config(),
            Some(M::TABLE)
        );
        traced!(
            span,
            async {
                let db = self.database();
                let update = crate::async_database_functions::statements::writes::UpdatePlan::new::<
                    M,
                >(db.config(), record_id.into(), new_values)?;
                retrying!(db, async {
                    let mut session = db.write_session(false).await?;
                    crate::async_database_functions::statements::writes::update_no_return_in::<M>(
                        &mut session,
                        &update,
                    )
                    .await?;
                    session.commit().await?;
                    Ok(())
                })
            },
            |_| Rows::affected(1),
        )
    }

    async fn update_many_untraced<M: Model + Clone>(
        &self,
        models: Vec<M>,
    ) -> Result<Vec<M>, DatabaseError> {
        let dialect = self.database().config().dialect();
        // Under `AUTOCOMMIT` the session opens no transaction: the statement guards itself.
        let alone = self.database().config().autocommit();
        let plan = UpdateManyPlan::new::<M>(dialect, models, alone)?;
        let db = self.database();
        retrying!(db, async {
            let mut session = db.write_session(true).await?;
            if !plan.one_statement() {
                // Under `AUTOCOMMIT` too: the statements commit together or not at all.
                session.ensure_transaction().await?;
            }
            let stored = plan.run_and_read::<M>(&mut session).await?;
            session.commit().await?;
            Ok(stored)
        })
    }
}

impl Session {
    /// [`DatabaseOperations::read_by_pks`] in this session (and its transaction).
    ///
    /// # Errors
    ///
    /// As [`DatabaseOperations::read_by_pks`].
    pub async fn read_by_pks<M: Model + Clone>(
        &mut self,
        ids: impl IntoIterator<Item = impl Into<Value>>,
    ) -> Result<Vec<Option<M>>, DatabaseError> {
        let key = single_key::<M>()?;
        let ids: Vec<Value> = ids.into_iter().map(Into::into).collect();
        let found = rows_by_keys::<M>(self, key, &distinct_keys(ids.iter().cloned())).await?;
        Ok(in_order_of(self.config().dialect(), key, &ids, found))
    }

    /// [`DatabaseOperations::update_many`] in this session's transaction.
    ///
    /// # Errors
    ///
    /// As [`DatabaseOperations::update_many`]; on not-found, what this call wrote stays in the
    /// transaction until the caller rolls it back. Under `AUTOCOMMIT` (no transaction open)
    /// the update is all or none by itself: one guarded statement on PostgreSQL, elsewhere its
    /// statements in a transaction of their own.
    pub async fn update_many<M: Model + Clone>(
        &mut self,
        models: Vec<M>,
    ) -> Result<Vec<M>, DatabaseError> {
        let plan =
            UpdateManyPlan::new::<M>(self.config().dialect(), models, !self.in_transaction())?;
        if !plan.one_statement() && self.ensure_transaction().await? {
            let result = plan.run_and_read::<M>(self).await;
            return self.end_own(result).await;
        }
        plan.run_and_read::<M>(self).await
    }

    /// [`DatabaseOperations::update_many_no_return`] in this session's transaction.
    ///
    /// # Errors
    ///
    /// As [`update_many`](Self::update_many).
    pub async fn update_many_no_return<M: Model + Clone>(
        &mut self,
        models: Vec<M>,
    ) -> Result<u64, DatabaseError> {
        let plan =
            UpdateManyPlan::new::<M>(self.config().dialect(), models, !self.in_transaction())?;
        if !plan.one_statement() && self.ensure_transaction().await? {
            let result = plan.run::<M>(self).await;
            return self.end_own(result).await;
        }
        plan.run::<M>(self).await
    }
}

use crate::async_database_functions::statements::row_key::{
    Key, KeyMap, distinct_keys, key_map, key_value,
};

/// `found` (in any order) as one `Option` per id of `ids`, in its order.
fn in_order_of<M: Model + Clone>(
    dialect: Dialect,
    key: &Column,
    ids: &[Value],
    found: Vec<M>,
) -> Vec<Option<M>> {
    /// A row not handed out yet, or the place in the result it went to.
    enum Slot<M> {
        Row(M),
        At(usize),
    }
    let mut by_key: KeyMap<Slot<M>> = key_map(found.len());
    for m in found {
        by_key.insert(
            Key::from_value(key_value(dialect, &m, key.name)),
            Slot::Row(m),
        );
    }
    let mut out: Vec<Option<M>> = Vec::with_capacity(ids.len());
    out.resize_with(ids.len(), || None);
    // From the last id back: the last time an id is asked for, its row is moved there; an
    // id asked for before that gets a copy.
    for (i, id) in ids.iter().enumerate().rev() {
        let Some(slot) = by_key.get_mut(&Key::of(id)) else {
            continue;
        };
        out[i] = match std::mem::replace(slot, Slot::At(i)) {
            Slot::Row(m) => Some(m),
            Slot::At(j) => {
                *slot = Slot::At(j);
                out[j].clone()
            }
        };
    }
    out
}

/// The rows whose `key` column (any column of `M`) is one of `keys` (distinct), in whatever
/// order the database gives them.
pub(crate) async fn rows_by_keys<M: Model>(
    session: &mut Session,
    key: &'static Column,
    keys: &[Value],
) -> Result<Vec<M>, DatabaseError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = session.config().dialect();
    if let Some((clause, arrays)) = dialect::any_key_clause(dialect, M::TABLE, key, keys) {
        let mut sql = M::select().render(dialect)?.sql;
        sql.push_str(&clause);
        let bulk = BulkRendered {
            rendered: Rendered {
                sql,
                values: Values(keys.to_vec()),
            },
            arrays: Some(arrays),
            copy: None,
        };
        return Ok(session.run_bulk::<M>(bulk).await?.rows);
    }
    let per_chunk = dialect::rows_per_statement(dialect, 1, || {
        keys.iter().map(dialect::value_len).max().unwrap_or(0)
    });
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(per_chunk) {
        let mut select = M::select();
        select.and_where(M::col(key.name).is_in(chunk.iter().cloned()));
        found.extend(session.fetch_all::<M>(&select).await?);
    }
    Ok(found)
}

/// An update of many rows: the columns written, and each row's key and values, the last model
/// of a key given twice.
struct UpdateManyPlan {
    key: &'static Column,
    columns: Vec<&'static Column>,
    /// Row after row, in key order: the key, then one value per column.
    values: Vec<Value>,
    /// The keys in the order given (each once), the order the rows are returned in.
    given: Vec<Value>,
    /// The one `UPDATE … FROM unnest(…)` statement, where the dialect has it.
    unnest: Option<(String, dialect::ColumnArrays)>,
    /// Whether `unnest` is the statement that updates every row or none by itself, run
    /// outside a transaction (see `dialect::unnest_update`).
    alone: bool,
}

impl UpdateManyPlan {
    /// The plan of an update of `models`; `alone` when it runs outside a transaction (where
    /// the dialect's one statement is then all or none by itself: see `one_statement`).
    fn new<M: Model>(dialect: Dialect, models: Vec<M>, alone: bool) -> Result<Self, DatabaseError> {
        let key = single_key::<M>()?;
        let all = M::columns();
        let key_index = all.iter().position(|c| c.name == key.name).unwrap_or(0);
        let mut columns: Option<Vec<&'static Column>> = None;
        // Row after row in the order first given (a key given twice: the last model wins, in
        // the place of the first): the key, then one value per column.
        let mut cells: Vec<Value> = Vec::new();
        let mut at: KeyMap<usize> = key_map(models.len());
        let mut values = Vec::with_capacity(all.len());
        let mut pairs: Vec<(&'static str, Value)> = Vec::with_capacity(all.len() + 1);
        for model in &models {
            values.clear();
            model.push_values(dialect, &mut values);
            let id = values.get(key_index).cloned().unwrap_or(Value::Bool(None));
            pairs.clear();
            pairs.extend(
                all.iter()
                    .zip(values.drain(..))
                    .filter(|(c, _)| {
                        !(c.primary_key
                            || c.auto_increment
                            || matches!(c.name, "pkid" | "id" | "date_created"))
                    })
                    .map(|(c, v)| (c.name, v)),
            );
            M::before_update(&mut pairs);
            let names = columns.get_or_insert_with(|| {
                pairs
                    .iter()
                    .filter_map(|(name, _)| all.iter().find(|c| c.name == *name))
                    .collect()
            });
            let width = names.len() + 1;
            let next = at.len();
            let row = *at.entry(Key::of(&id)).or_insert(next);
            if row == next {
                cells.resize(cells.len() + width, Value::Bool(None));
            }
            let cells = &mut cells[row * width..(row + 1) * width];
            cells[0] = id;
            for (cell, column) in cells[1..].iter_mut().zip(names.iter()) {
                *cell = pairs
                    .iter_mut()
                    .find(|(n, _)| *n == column.name)
                    .map_or(Value::Bool(None), |(_, v)| {
                        std::mem::replace(v, Value::Bool(None))
                    });
            }
        }
        let columns = columns.unwrap_or_default();
        let width = columns.len() + 1;
        let given = cells.iter().step_by(width).cloned().collect();
        // Written in key order: two batches that share keys lock them in the same order, so
        // they wait for each other rather than deadlock.
        let mut order: Vec<(Key, usize)> = at.into_iter().collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut values = Vec::with_capacity(cells.len());
        for (_, row) in order {
            values.extend(
                cells[row * width..(row + 1) * width]
                    .iter_mut()
                    .map(|v| std::mem::replace(v, Value::Bool(None))),
            );
        }
        let unnest = if columns.is_empty() {
            None
        } else {
            dialect::unnest_update(dialect, M::TABLE, key, &columns, &values, alone)
        };
        let alone = alone && unnest.is_some();
        Ok(UpdateManyPlan {
            key,
            columns,
            values,
            given,
            unnest,
            alone,
        })
    }

    fn rows(&self) -> usize {
        self.values.len() / (self.columns.len() + 1)
    }

    /// Whether the update is one statement that updates every row or none by itself
    /// (PostgreSQL's guarded `UPDATE … FROM unnest`, see `dialect::unnest_update`).
    fn one_statement(&self) -> bool {
        self.alone
    }

    fn keys(&self) -> Vec<Value> {
        self.values
            .chunks_exact(self.columns.len() + 1)
            .map(|row| row[0].clone())
            .collect()
    }

    /// Runs the update on `session` (inside its transaction); the number of rows updated. A
    /// key without a row is a not-found error (the caller's transaction is not committed).
    async fn run<M: Model>(&self, session: &mut Session) -> Result<u64, DatabaseError> {
        let expected = self.rows() as u64;
        if expected == 0 {
            return Ok(0);
        }
        let dialect = session.config().dialect();
        let width = self.columns.len() + 1;
        let updated = if self.columns.is_empty() {
            // Nothing to write but the keys: they must exist.
            let keys = self.keys();
            rows_by_keys::<M>(session, self.key, &keys).await?.len() as u64
        } else if let Some((sql, arrays)) = self.unnest.clone() {
            let bulk = BulkRendered {
                rendered: Rendered {
                    sql,
                    values: Values(self.values.clone()),
                },
                arrays: Some(arrays),
                copy: None,
            };
            match session.run_bulk::<()>(bulk).await {
                // The guarded statement succeeds only when it updated every row.
                Ok(_) if self.alone => expected,
                Ok(done) => done.rows_affected,
                Err(error) if self.alone && dialect::update_guard_refused(&error) => {
                    // Nothing was updated: count the keys that have a row. All of them: the
                    // error was not the guard's (or a row is back since).
                    let keys = self.keys();
                    let found = rows_by_keys::<M>(session, self.key, &keys).await?.len() as u64;
                    if found >= expected {
                        return Err(error);
                    }
                    return Err(self.not_found::<M>(expected - found));
                }
                Err(error) => return Err(error),
            }
        } else if dialect::update_case_batches(dialect) {
            // `SET c = CASE key WHEN ? THEN ? … END`: two binds per row and column, and the
            // key once more in `IN (…)`.
            let per_chunk =
                dialect::rows_per_statement(dialect, 2 * self.columns.len() + 1, || 0).max(1);
            let mut updated = 0;
            for chunk in self.values.chunks(per_chunk * width) {
                let update = self.case_update::<M>(chunk);
                updated += session.execute(&update).await?;
            }
            updated
        } else {
            let mut updated = 0;
            for row in self.values.chunks_exact(width) {
                let mut update = Query::update();
                update
                    .table(M::TABLE)
                    .values(
                        self.columns
                            .iter()
                            .zip(&row[1..])
                            .map(|(c, v)| (c.name, Expr::val(v.clone()))),
                    )
                    .and_where(M::col(self.key.name).eq(row[0].clone()));
                updated += session.execute(&update).await?;
            }
            updated
        };
        if updated < expected {
            return Err(self.not_found::<M>(expected - updated));
        }
        Ok(updated)
    }

    /// The not-found error of an update where `missing` of the keys have no row.
    fn not_found<M: Model>(&self, missing: u64) -> DatabaseError {
        DatabaseError::not_found(format!(
            "update_many on {}: {missing} of the {} keys given have no row; nothing was updated",
            M::TABLE,
            self.rows(),
        ))
    }

    /// The update, then the rows as stored, in the order of the plan's keys.
    async fn run_and_read<M: Model + Clone>(
        &self,
        session: &mut Session,
    ) -> Result<Vec<M>, DatabaseError> {
        self.run::<M>(session).await?;
        let found = rows_by_keys::<M>(session, self.key, &self.given).await?;
        let dialect = session.config().dialect();
        Ok(in_order_of(dialect, self.key, &self.given, found)
            .into_iter()
            .flatten()
            .collect())
    }

    /// `UPDATE t SET a = CASE key WHEN ? THEN ? … END, … WHERE key IN (…)` for the rows of
    /// `chunk` (row after row: the key, then the values).
    fn case_update<M: Model>(&self, chunk: &[Value]) -> sea_query::UpdateStatement {
        let width = self.columns.len() + 1;
        let mut update = Query::update();
        update.table(M::TABLE);
        for (i, column) in self.columns.iter().enumerate() {
            let mut case = sea_query::CaseStatement::new();
            for row in chunk.chunks_exact(width) {
                case = case.case(
                    M::col(self.key.name).eq(row[0].clone()),
                    Expr::val(row[i + 1].clone()),
                );
            }
            update.value(sea_query::Alias::new(column.name), case);
        }
        update.and_where(
            M::col(self.key.name).is_in(chunk.chunks_exact(width).map(|row| row[0].clone())),
        );
        update
    }
}
