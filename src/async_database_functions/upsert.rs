//! Upsert: [`DatabaseOperations::upsert_one`] and [`DatabaseOperations::upsert_many`].
//!
//! Insert, or on a primary-key conflict update every other column (never `date_created`;
//! `date_updated` stamped), returning the stored rows: `INSERT … ON CONFLICT (key) DO UPDATE
//! SET col = excluded.col … RETURNING …` on SQLite and PostgreSQL, `INSERT … ON DUPLICATE
//! KEY UPDATE col = VALUES(col)` and a read back in the same transaction on MySQL/MariaDB.

use std::borrow::Cow;
use std::collections::HashMap;

use sea_query::{Condition, SelectStatement, Value};

use super::async_database::AsyncDatabase;
use super::database_operations::DatabaseOperations;
use super::dialect;
use super::topology::retry::retrying;
use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::error::{Constraint, DatabaseError, ErrorKind};
use crate::async_database_functions::statements::bulk_insert::BulkInsert;
use crate::async_database_functions::statements::model::{Model, is_unset};
use crate::async_database_functions::statements::telemetry::{Rows, operation_span, traced};

impl DatabaseOperations {
    /// Inserts `model`, or, when a row with its primary key exists, updates every other
    /// column of that row from it, keeping the row's `date_created` and stamping
    /// `date_updated`; returns the row as stored.
    ///
    /// ```
    /// use dsg_lib::prelude::*;
    ///
    /// #[derive(Model, Debug, Clone)]
    /// #[model(table = "upsert_doc")]
    /// struct Color {
    ///     #[model(flatten)]
    ///     base: SchemaBase,
    ///     #[model(size = 50)]
    ///     name: String,
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
    /// db.register::<Color>();
    /// db.create_tables().await?;
    /// let ops = DatabaseOperations::new(db);
    ///
    /// let red = ops.upsert_one(Color { base: SchemaBase::default(), name: "red".into() }).await?;
    /// let renamed = ops.upsert_one(Color { name: "crimson".into(), ..red.clone() }).await?;
    /// assert_eq!(renamed.base.pkid, red.base.pkid);
    /// assert_eq!(renamed.base.date_created, red.base.date_created);
    /// assert_eq!(ops.read_query::<Color>(&Color::select()).await?.len(), 1);
    /// # Ok::<(), DatabaseError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid input when `M` has no primary key or the model's auto-increment key is unset;
    /// an integrity error when the row conflicts on another unique column (also on
    /// MySQL/MariaDB, where `ON DUPLICATE KEY UPDATE` would otherwise update that other row).
    pub async fn upsert_one<M: Model>(&self, model: M) -> Result<M, DatabaseError> {
        let span = operation_span!("upsert_one", self.database().config(), Some(M::TABLE));
        let run = async {
            let mut stored = upsert_in::<M>(self.database(), vec![model]).await?;
            stored.pop().ok_or_else(|| {
                DatabaseError::not_found(format!("the upserted {} row was not read back", M::TABLE))
            })
        };
        traced!(span, run, |_| Rows::affected(1))
    }

    /// [`upsert_one`](Self::upsert_one) for many models, in one transaction (chunked as
    /// `create_many` is): one failing row stores none.
    /// Returns the rows as stored, in the order given. A primary key given twice in one call
    /// is written once, with the values of its last occurrence (as if the rows were upserted
    /// one after the other), and returned once, in the place of its first.
    pub async fn upsert_many<M: Model>(&self, models: Vec<M>) -> Result<Vec<M>, DatabaseError> {
        let span = operation_span!("upsert_many", self.database().config(), Some(M::TABLE));
        traced!(span, upsert_in::<M>(self.database(), models), |stored| {
            Rows::affected(stored.len())
        })
    }
}

async fn upsert_in<M: Model>(
    db: &AsyncDatabase,
    mut models: Vec<M>,
) -> Result<Vec<M>, DatabaseError> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let dialect = db.config().dialect();
    let columns = M::columns();
    let keys: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].primary_key)
        .collect();
    if keys.is_empty() {
        return Err(DatabaseError::invalid_input(format!(
            "upsert: {} has no primary key",
            M::TABLE
        )));
    }
    let key_names: Vec<&'static str> = keys.iter().map(|&i| columns[i].name).collect();
    // Every other column is updated on a conflict, except the creation stamp. A table of
    // keys alone "updates" its key to itself, so that the row is still returned.
    let mut updated: Vec<&'static str> = columns
        .iter()
        .filter(|c| !c.primary_key && c.name != "date_created")
        .map(|c| c.name)
        .collect();
    if updated.is_empty() {
        updated.clone_from(&key_names);
    }

    for model in &mut models {
        model.before_insert();
    }
    let rows: Vec<Vec<Value>> = models
        .iter()
        .map(|m| {
            let mut values = Vec::with_capacity(columns.len());
            m.push_values(dialect, &mut values);
            values
        })
        .collect();
    drop(models);
    let rows = last_of_each_key(&keys, rows);
    for row in &rows {
        if keys
            .iter()
            .any(|&i| columns[i].auto_increment && is_unset(&row[i]))
        {
            return Err(DatabaseError::invalid_input(format!(
                "upsert: every {} row needs its primary key ({})",
                M::TABLE,
                key_names.join(", ")
            )));
        }
    }

    let per_chunk = dialect::rows_per_statement(dialect, columns.len(), || {
        let row_len = |row: &Vec<Value>| row.iter().map(dialect::value_len).sum::<usize>();
        rows.iter().map(row_len).max().unwrap_or(0)
    });
    let returning = dialect::insert_returning(dialect);
    let column_refs: Vec<&'static Column> = columns.iter().collect();
    // One statement is atomic by itself; several, or a write and its read back, need a
    // transaction.
    retrying!(db, async {
        let mut session = db
            .write_session(!returning || rows.len() > per_chunk)
            .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(per_chunk) {
            let mut insert = BulkInsert::new(M::TABLE, column_refs.clone());
            for row in chunk {
                insert.row(row.iter().cloned());
            }
            insert.on_conflict(key_names.clone(), updated.clone());
            if returning {
                insert.returning(columns.iter().map(|c| c.name));
                let found = session.run_bulk(insert.into_rendered(dialect)).await?.rows;
                stored.extend(in_given_order::<M>(dialect, columns, &keys, chunk, found)?);
            } else {
                session
                    .run_bulk::<()>(insert.into_rendered(dialect))
                    .await?;
            }
        }
        if !returning {
            // Read back once every row is written, by one key column in statements as large
            // as the keys alone allow: a key is a fraction of a row, and each statement's
            // fixed cost is paid fewer times (MariaDB: 10 000 rows by 1 024 keys a statement
            // took 28.7 ms, by 10 000 in one 22.7 ms). Composite keys as the rows were written.
            let per_read = match keys[..] {
                [key] => dialect::rows_per_statement(dialect, 1, || {
                    let key_len = |row: &Vec<Value>| dialect::value_len(&row[key]);
                    rows.iter().map(key_len).max().unwrap_or(0)
                }),
                _ => per_chunk,
            };
            for chunk in rows.chunks(per_read) {
                let found = session
                    .fetch_all(&read_back::<M>(columns, &keys, chunk))
                    .await?;
                stored.extend(in_given_order::<M>(dialect, columns, &keys, chunk, found)?);
            }
        }
        session.commit().await?;
        Ok(stored)
    })
}

/// The rows with one row per key: a key given twice keeps the values of its last row, in the
/// place of its first (PostgreSQL refuses a statement whose `ON CONFLICT DO UPDATE` would
/// reach one row twice; the others would apply the rows in turn, which this matches).
fn last_of_each_key(keys: &[usize], rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let mut at: HashMap<Vec<Value>, usize> = HashMap::with_capacity(rows.len());
    let mut kept: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
    for row in rows {
        let key: Vec<Value> = keys.iter().map(|&i| row[i].clone()).collect();
        match at.get(&key) {
            Some(&i) => kept[i] = row,
            None => {
                at.insert(key, kept.len());
                kept.push(row);
            }
        }
    }
    kept
}

/// `SELECT <every column>` of the rows whose keys are those of `given`.
fn read_back<M: Model>(
    columns: &[Column],
    keys: &[usize],
    given: &[Vec<Value>],
) -> SelectStatement {
    let mut select = M::select();
    if let [key] = keys[..] {
        // A flat `IN (…)`: thousands of ORed conditions nest too deep to render.
        select.and_where(M::col(columns[key].name).is_in(given.iter().map(|row| row[key].clone())));
    } else {
        let mut any = Condition::any();
        for row in given {
            let mut all = Condition::all();
            for &i in keys {
                all = all.add(M::col(columns[i].name).eq(row[i].clone()));
            }
            any = any.add(all);
        }
        select.cond_where(any);
    }
    select
}

/// The rows read back, in the order of the rows given. A row given whose key was not stored
/// is a conflict on another unique column: on MySQL/MariaDB `ON DUPLICATE KEY UPDATE` updated
/// that other row instead (the caller's transaction is then rolled back).
///
/// PostgreSQL's and SQLite's `RETURNING` give the rows in the order given as a rule (not a
/// promise: any order is matched); MySQL/MariaDB's read back by key comes in index order.
/// (Matching them through each key's `Debug` text took a third of a 10 000-row MariaDB
/// upsert's client instructions: callgrind.)
fn in_given_order<M: Model>(
    dialect: crate::async_database_functions::core::sql_dialect::Dialect,
    columns: &[Column],
    keys: &[usize],
    given: &[Vec<Value>],
    found: Vec<M>,
) -> Result<Vec<M>, DatabaseError> {
    // A row's key, borrowed where it is one column.
    fn lookup<'r>(keys: &[usize], row: &'r [Value]) -> Cow<'r, [Value]> {
        match keys {
            [i] => Cow::Borrowed(std::slice::from_ref(&row[*i])),
            _ => Cow::Owned(keys.iter().map(|&i| row[i].clone()).collect()),
        }
    }
    let mut values = Vec::with_capacity(columns.len());
    let found_keys: Vec<Vec<Value>> = found
        .iter()
        .map(|model| {
            values.clear();
            model.push_values(dialect, &mut values);
            lookup(keys, &values).into_owned()
        })
        .collect();
    if found.len() == given.len()
        && given
            .iter()
            .zip(&found_keys)
            .all(|(row, key)| *lookup(keys, row) == key[..])
    {
        return Ok(found);
    }
    let mut by_key: HashMap<Vec<Value>, M> = found_keys.into_iter().zip(found).collect();
    given
        .iter()
        .map(|row| {
            by_key.remove(&*lookup(keys, row)).ok_or_else(|| {
                DatabaseError::new(
                    ErrorKind::IntegrityError,
                    format!(
                        "upsert into {}: a row conflicts with another row on a unique column \
                         other than the primary key",
                        M::TABLE
                    ),
                )
                .with_constraint(Some(Constraint::Unique))
            })
        })
        .collect()
}
