//! The library's writes on one [`Session`]: insert, update and delete of models. The same code
//! runs for `DatabaseOperations` (which opens a session of its own, with a transaction where one
//! statement is not enough) and for a caller's own session or transaction
//! ([`Session::create_one`] and the others), so typed writes commit or roll back together.

use sea_query::{Expr, ExprTrait, Order, Query, Value};

use crate::async_database_functions::core::column::Column;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::field::value_from_json;
use crate::async_database_functions::core::redact;
use crate::async_database_functions::core::sql_dialect::Dialect;
use crate::async_database_functions::database_config::DBConfig;
use crate::async_database_functions::dialect;
use crate::async_database_functions::statements::bulk_insert::BulkInsert;
use crate::async_database_functions::statements::model::{Model, is_unset};
use crate::async_database_functions::statements::session::{Script, Session};

/// How a batch of models is inserted: which columns are sent, how many rows per statement,
/// and what is read back.
pub(crate) struct InsertPlan {
    dialect: Dialect,
    /// Per column of the model: sent (`false`: an auto-increment key left to the database).
    keep: Vec<bool>,
    kept: Vec<&'static Column>,
    every_column: bool,
    per_chunk: usize,
    returning: bool,
    read_back: bool,
}

impl InsertPlan {
    /// Stamps the models (`before_insert`) and plans their insert.
    pub(crate) fn new<M: Model>(dialect: Dialect, models: &mut [M]) -> Self {
        for model in models.iter_mut() {
            model.before_insert();
        }
        let columns = M::columns();
        // Auto-increment columns left unset (NULL or 0) in every row are left to the database.
        let keep: Vec<bool> = if columns.iter().any(|c| c.auto_increment) {
            let rows: Vec<Vec<Value>> = models
                .iter()
                .map(|m| {
                    let mut values = Vec::with_capacity(columns.len());
                    m.push_values(dialect, &mut values);
                    values
                })
                .collect();
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| !(c.auto_increment && rows.iter().all(|r| is_unset(&r[i]))))
                .collect()
        } else {
            vec![true; columns.len()]
        };
        let kept: Vec<&'static Column> = columns
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect();
        let per_chunk =
            dialect::rows_per_statement(dialect, kept.len(), || largest_row(dialect, models));
        // Only what the database generates is read back: an auto-increment key left unset.
        // Every other value is the one given, so the given models are the rows stored.
        let generated = keep.iter().any(|k| !k);
        let returning = generated && dialect::insert_returning(dialect);
        let key_index = single_key::<M>()
            .ok()
            .and_then(|key| columns.iter().position(|c| c.name == key.name));
        // The database chooses the ids and cannot return them: the rows are read back.
        let read_back = !returning && key_index.is_some_and(|k| !keep[k]);
        InsertPlan {
            dialect,
            every_column: !generated,
            keep,
            kept,
            per_chunk,
            returning,
            read_back,
        }
    }

    /// Whether inserting `rows` rows takes more than one statement (and so a transaction).
    pub(crate) fn needs_transaction(&self, rows: usize) -> bool {
        rows > self.per_chunk || self.read_back
    }
}

/// Inserts `models` on `session` as `plan` says, and returns them as stored.
///
/// `None` when every column was given: then the models given are exactly the rows stored
/// (they are only borrowed, so that a transaction that failed retryably can run again).
pub(crate) async fn insert_in<M: Model>(
    session: &mut Session,
    plan: &InsertPlan,
    models: &[M],
) -> Result<Option<Vec<M>>, DatabaseError> {
    let dialect = plan.dialect;
    let mut stored = Vec::new();
    let mut row = Vec::with_capacity(plan.keep.len());
    for given in models.chunks(plan.per_chunk) {
        let mut insert = BulkInsert::new(M::TABLE, plan.kept.clone());
        for model in given {
            if plan.every_column {
                model.push_values(dialect, insert.values_mut());
            } else {
                row.clear();
                model.push_values(dialect, &mut row);
                insert.row(
                    row.drain(..)
                        .zip(&plan.keep)
                        .filter(|(_, k)| **k)
                        .map(|(v, _)| v),
                );
            }
        }
        if plan.returning {
            insert.returning(M::columns().iter().map(|c| c.name));
            let outcome = session.run_bulk::<M>(insert.into_rendered(dialect)).await?;
            stored.extend(outcome.rows);
        } else if plan.read_back {
            let outcome = session
                .run_bulk::<()>(insert.into_rendered(dialect))
                .await?;
            stored.extend(read_back_ids::<M>(session, given.len(), outcome.last_insert_id).await?);
        } else {
            session
                .run_bulk::<()>(insert.into_rendered(dialect))
                .await?;
        }
    }
    // Every column was given: the rows stored are exactly the models.
    Ok((plan.returning || plan.read_back).then_some(stored))
}

/// The values of the largest of the first rows of `models`, in bytes (a sample: rows much
/// larger further on only make their statement larger).
fn largest_row<M: Model>(dialect: Dialect, models: &[M]) -> usize {
    let mut values = Vec::new();
    models
        .iter()
        .take(32)
        .map(|model| {
            values.clear();
            model.push_values(dialect, &mut values);
            values.iter().map(dialect::value_len).sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// An update of one row by its key, validated against the model.
pub(crate) struct UpdatePlan {
    key: &'static Column,
    record_id: Value,
    values: Vec<(&'static str, Value)>,
    returning: bool,
    /// Without `UPDATE … RETURNING` (MySQL/MariaDB): the update and the read back as one
    /// script, one round trip, when every value has a literal.
    script: Option<Script>,
}

impl UpdatePlan {
    /// Checks `new_values` (a JSON map of column → value) against `M`: never the primary key
    /// or `date_created`; `date_updated` is stamped.
    pub(crate) fn new<M: Model>(
        config: &DBConfig,
        record_id: Value,
        new_values: serde_json::Value,
    ) -> Result<Self, DatabaseError> {
        let dialect = config.dialect();
        let hide = config.hide_parameters();
        let key = single_key::<M>()?;
        let serde_json::Value::Object(map) = new_values else {
            return Err(DatabaseError::invalid_input(
                "update_one: new_values must be a map of column names to values",
            ));
        };
        let mut values: Vec<(&'static str, Value)> = Vec::with_capacity(map.len() + 1);
        for (name, json) in &map {
            let column = M::column(name).ok_or_else(|| {
                DatabaseError::invalid_input(format!("{} has no column {name:?}", M::TABLE))
            })?;
            if column.primary_key || matches!(column.name, "pkid" | "id" | "date_created") {
                continue;
            }
            // Through the field's Rust type (an enum refuses a name it does not know), else
            // against the column's SQL type.
            let value = M::column_from_json(column, json, dialect)
                .unwrap_or_else(|| value_from_json(column.sql_type, column.nullable, json, dialect))
                .map_err(|e| {
                    let e = if hide {
                        redact::scrub_values(e, &[crate::async_database_functions::statements::statement::json_to_value(json.clone())])
                    } else {
                        e
                    };
                    DatabaseError::invalid_input(format!("{}.{name}: {e}", M::TABLE))
                })?;
            values.push((column.name, value));
        }
        M::before_update(&mut values);
        let returning = !values.is_empty() && dialect::update_returning(dialect);
        let script = if returning {
            None
        } else {
            update_script::<M>(config, key, &record_id, &values)
        };
        Ok(UpdatePlan {
            key,
            record_id,
            values,
            returning,
            script,
        })
    }

    /// Whether the update and the read back take separate statements, which belong in one
    /// transaction. Not with `UPDATE … RETURNING` (one statement), nor with a script (it runs
    /// in a transaction of its own).
    pub(crate) fn needs_transaction(&self) -> bool {
        !self.returning && self.script.is_none()
    }
}

/// Runs `plan` on `session` and returns the row as stored.
pub(crate) async fn update_in<M: Model>(
    session: &mut Session,
    plan: &UpdatePlan,
) -> Result<M, DatabaseError> {
    let UpdatePlan {
        key,
        record_id,
        values,
        returning,
        script,
    } = plan;
    let (key, returning) = (*key, *returning);
    if let Some(script) = script {
        return session
            .run_script::<M>(script)
            .await?
            .rows
            .pop()
            .ok_or_else(|| not_found::<M>(session.config(), key, record_id));
    }
    if returning {
        let update = update_returning::<M>(session.config().dialect(), plan);
        return session
            .first_rendered::<M>(update)
            .await?
            .ok_or_else(|| not_found::<M>(session.config(), key, record_id));
    }
    if !values.is_empty() {
        session
            .execute(&update_by_key::<M>(key, record_id, values))
            .await?;
    }
    let mut select = M::select();
    select.and_where(M::col(key.name).eq(record_id.clone()));
    session
        .fetch_optional::<M>(&select)
        .await?
        .ok_or_else(|| not_found::<M>(session.config(), key, record_id))
}

/// Runs `plan` on `session` without reading the row back: one `UPDATE … WHERE key = ?` (with
/// nothing to set, a check that the row exists).
pub(crate) async fn update_no_return_in<M: Model>(
    session: &mut Session,
    plan: &UpdatePlan,
) -> Result<(), DatabaseError> {
    let UpdatePlan {
        key,
        record_id,
        values,
        ..
    } = plan;
    let found = if values.is_empty() {
        let mut select = Query::select();
        select
            .expr(Expr::val(1))
            .from(M::TABLE)
            .and_where(Expr::col(key.name).eq(record_id.clone()));
        session.fetch_optional::<i32>(&select).await?.is_some()
    } else {
        session
            .execute(&update_by_key::<M>(key, record_id, values))
            .await?
            > 0
    };
    if found {
        Ok(())
    } else {
        Err(not_found::<M>(session.config(), key, record_id))
    }
}

/// `UPDATE t SET c = ?, … WHERE key = ?`, the update of one row by its key without a read back.
fn update_by_key<M: Model>(
    key: &Column,
    record_id: &Value,
    values: &[(&'static str, Value)],
) -> sea_query::UpdateStatement {
    let mut update = Query::update();
    update
        .table(M::TABLE)
        .values(values.iter().map(|(c, v)| (*c, Expr::val(v.clone()))))
        .and_where(Expr::col(key.name).eq(record_id.clone()));
    update
}

/// `UPDATE t SET c = ?, … WHERE key = ? RETURNING <every column>`, written straight from the
/// plan (as [`BulkInsert`] is): an update of one row is frequent, and building and rendering a
/// sea-query statement for it costs a good part of what SQLite itself does for it.
fn update_returning<M: Model>(
    dialect: Dialect,
    plan: &UpdatePlan,
) -> crate::async_database_functions::statements::statement::Rendered {
    let mut sql = String::with_capacity(64 + 24 * (plan.values.len() + M::columns().len()));
    let mut values = Vec::with_capacity(plan.values.len() + 1);
    sql.push_str("UPDATE ");
    dialect::push_ident(dialect, &mut sql, M::TABLE);
    sql.push_str(" SET ");
    for (i, (column, value)) in plan.values.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        dialect::push_ident(dialect, &mut sql, column);
        sql.push_str(" = ");
        dialect::push_placeholder(dialect, &mut sql, i + 1);
        values.push(value.clone());
    }
    sql.push_str(" WHERE ");
    dialect::push_ident(dialect, &mut sql, plan.key.name);
    sql.push_str(" = ");
    dialect::push_placeholder(dialect, &mut sql, plan.values.len() + 1);
    values.push(plan.record_id.clone());
    sql.push_str(" RETURNING ");
    dialect::push_ident_list(dialect, &mut sql, M::columns().iter().map(|c| c.name));
    crate::async_database_functions::statements::statement::Rendered {
        sql,
        values: sea_query::Values(values),
    }
}

/// `UPDATE t SET c = <literal>, … WHERE key = <literal>; SELECT <every column> FROM t WHERE
/// key = <literal>`: the update and its read back sent together, in one round trip, where the
/// dialect sends scripts and has no `UPDATE … RETURNING` (MySQL/MariaDB). `None` where it sends
/// none, or a value has no literal: then they run as two bound statements.
fn update_script<M: Model>(
    config: &DBConfig,
    key: &Column,
    record_id: &Value,
    values: &[(&'static str, Value)],
) -> Option<Script> {
    let dialect = config.dialect();
    let mut sql = String::with_capacity(96 + 32 * (values.len() + M::columns().len()));
    let literal = |sql: &mut String, value: &Value| dialect::push_literal(dialect, sql, value);
    if !push_update_select::<M>(dialect, &mut sql, key, record_id, values, literal)
        || sql.len() > SCRIPT_MAX
    {
        return None;
    }
    // What is logged or timed: the statements with `?`.
    let shown = config.echo() || config.slow_statement_threshold().is_some();
    let template = shown.then(|| {
        let mut template = String::new();
        let placeholder = |sql: &mut String, _: &Value| {
            sql.push('?');
            true
        };
        push_update_select::<M>(dialect, &mut template, key, record_id, values, placeholder);
        template
    });
    let atomic = !values.is_empty();
    // The values, for the log and to keep out of error details.
    let values = if shown || config.hide_parameters() {
        let mut all: Vec<Value> = values.iter().map(|(_, v)| v.clone()).collect();
        if atomic {
            all.push(record_id.clone());
        }
        all.push(record_id.clone());
        all
    } else {
        Vec::new()
    };
    Some(Script {
        sql,
        template,
        values,
        atomic,
    })
}

/// The longest script sent: a longer one (large values, twice their size in hex) is bound
/// instead, in statements of its own. A text query longer than the server's
/// `max_allowed_packet` (16 MiB by default on MariaDB, 1 MiB at its smallest in practice) is
/// refused and the connection closed, where the same values bound in a prepared statement fit.
const SCRIPT_MAX: usize = 64 * 1024;

/// Writes the statements of [`update_script`], each value by `value` (`false`: it has no
/// literal, and the script is given up).
fn push_update_select<M: Model>(
    dialect: Dialect,
    sql: &mut String,
    key: &Column,
    record_id: &Value,
    values: &[(&'static str, Value)],
    value: impl Fn(&mut String, &Value) -> bool,
) -> bool {
    let by_key = |sql: &mut String| {
        sql.push_str(" WHERE ");
        dialect::push_ident(dialect, sql, key.name);
        sql.push_str(" = ");
        value(sql, record_id)
    };
    if !values.is_empty() {
        sql.push_str("UPDATE ");
        dialect::push_ident(dialect, sql, M::TABLE);
        sql.push_str(" SET ");
        for (i, (column, v)) in values.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            dialect::push_ident(dialect, sql, column);
            sql.push_str(" = ");
            if !value(sql, v) {
                return false;
            }
        }
        if !by_key(sql) {
            return false;
        }
        sql.push_str("; ");
    }
    sql.push_str("SELECT ");
    for (i, column) in M::columns().iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        dialect::push_script_column(dialect, sql, column);
    }
    sql.push_str(" FROM ");
    dialect::push_ident(dialect, sql, M::TABLE);
    by_key(sql)
}

/// Deletes the row of `M` whose key is `record_id` on `session`.
pub(crate) async fn delete_in<M: Model>(
    session: &mut Session,
    record_id: &Value,
) -> Result<(), DatabaseError> {
    let key = single_key::<M>()?;
    let mut delete = Query::delete();
    delete
        .from_table(M::TABLE)
        .and_where(Expr::col(key.name).eq(record_id.clone()));
    match session.execute(&delete).await? {
        0 => Err(not_found::<M>(session.config(), key, record_id)),
        _ => Ok(()),
    }
}

/// "No row with this id"; the id is left out with `hide_parameters`.
pub(crate) fn not_found<M: Model>(config: &DBConfig, key: &Column, id: &Value) -> DatabaseError {
    let id = if config.hide_parameters() {
        redact::HIDDEN.to_string()
    } else {
        show(id)
    };
    DatabaseError::not_found(format!("no {} row with {} = {id}", M::TABLE, key.name))
}

/// Reads back rows whose auto-increment ids the database chose, where the backend has no
/// `INSERT … RETURNING`: the ids of one multi-row insert are consecutive from the first.
async fn read_back_ids<M: Model>(
    session: &mut Session,
    count: usize,
    last_insert_id: Option<i64>,
) -> Result<Vec<M>, DatabaseError> {
    let key = single_key::<M>()?;
    let first = last_insert_id.ok_or_else(|| {
        DatabaseError::not_found(format!(
            "{}: the database reported no inserted id",
            M::TABLE
        ))
    })?;
    let last = first.saturating_add(i64::try_from(count).unwrap_or(i64::MAX) - 1);
    let mut select = M::select();
    select
        .and_where(M::col(key.name).between(first, last))
        .order_by((M::TABLE, key.name), Order::Asc);
    session.fetch_all(&select).await
}

/// The one primary key column of `M`; operations by id need exactly one.
pub(crate) fn single_key<M: Model>() -> Result<&'static Column, DatabaseError> {
    let mut keys = M::columns().iter().filter(|c| c.primary_key);
    match (keys.next(), keys.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(DatabaseError::invalid_input(format!(
            "{} has no primary key",
            M::TABLE
        ))),
        (Some(_), Some(_)) => Err(DatabaseError::invalid_input(format!(
            "{} has a composite primary key; operations by id need a single key column",
            M::TABLE
        ))),
    }
}

/// A value as it reads in an error message.
fn show(value: &Value) -> String {
    match value {
        Value::String(Some(s)) => format!("{s:?}"),
        Value::Int(Some(n)) => n.to_string(),
        Value::BigInt(Some(n)) => n.to_string(),
        Value::Uuid(Some(u)) => u.to_string(),
        other => format!("{other:?}"),
    }
}
