//! `DatabaseOperations`: `text()` parameters, introspection, the error's serialised shape,
//! `hide_parameters` and a server that cannot be reached — on every configured backend.

mod common;
mod ops_support;

use std::time::{Duration, Instant};

use chrono::Utc;
use dsg_lib::Model;
use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::database_config::DBConfig;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::ErrorKind;
use dsg_lib::async_database_functions::model::Model as _;
use dsg_lib::async_database_functions::record::Record;
use dsg_lib::async_database_functions::statement::text;
use ops_support::{Check, expect_err, fresh};
use serde_json::json;

#[derive(Model, Debug, Clone)]
#[model(table = "ops_int_widths")]
struct IntWidth {
    #[model(flatten)]
    base: SchemaBase,
    small: i32,
    big: i64,
}

/// The same SQL bound with an `i32` and then an `i64` (and the reverse) works on every
/// backend: on PostgreSQL sqlx caches statements by SQL text alone (sqlx #2885), so the
/// library binds one integer width.
#[tokio::test]
async fn same_sql_with_different_integer_widths() {
    for b in common::backends() {
        // One connection, so the second statement meets the first one's cached statement.
        let one = if b.is_sqlite() {
            json!({})
        } else {
            json!({"pool_size": 1, "max_overflow": 0})
        };
        let (db, ops) = fresh(&b, one, |db| {
            db.register::<IntWidth>();
        })
        .await;
        let sql = "INSERT INTO ops_int_widths (pkid, date_created, date_updated, small, big) \
                   VALUES (:pkid, :now, :now, :small, :big)";
        let now = Utc::now().naive_utc();
        let insert = |small: dsg_lib::sea_query::Value, big: dsg_lib::sea_query::Value| {
            text(sql)
                .bind("pkid", uuid::Uuid::new_v4().to_string())
                .bind("now", now)
                .bind("small", small)
                .bind("big", big)
        };
        ops.execute_one(&insert(3i32.into(), 4i64.into()))
            .await
            .unwrap_or_else(|e| panic!("[{}] i32/i64: {e}", b.name));
        ops.execute_one(&insert(5i64.into(), 6i32.into()))
            .await
            .unwrap_or_else(|e| panic!("[{}] i64/i32: {e}", b.name));
        let mut select = IntWidth::select();
        select.and_where(IntWidth::col("small").eq(3i32));
        let first: Vec<IntWidth> = ops.read_query(&select).await.expect("read by i32");
        let mut select = IntWidth::select();
        select.and_where(IntWidth::col("small").eq(5i64));
        let second: Vec<IntWidth> = ops.read_query(&select).await.expect("read by i64");
        assert_eq!(
            (first.len(), first[0].big, second.len(), second[0].big),
            (1, 4, 1, 6),
            "[{}]",
            b.name
        );
        db.drop_tables().await.expect("drop");
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// text() parameters

#[derive(Model, Debug, Clone)]
#[model(table = "ops_text_items")]
struct TextItem {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 50)]
    name: String,
    qty: i64,
}

const INSERT_TEXT_ITEM: &str = "INSERT INTO ops_text_items (pkid, date_created, date_updated, name, qty) \
     VALUES (:pkid, :now, :now, :name, :qty)";

#[tokio::test]
async fn text_binds_named_parameters_on_every_backend() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<TextItem>();
        })
        .await;
        let now = Utc::now().naive_utc();
        // `qty` is bound as i64 every time this SQL runs: sqlx's PostgreSQL statement cache
        // is keyed by SQL text only, so an i32 then an i64 for the same placeholder fails
        // with 22P03 (sqlx #2885).
        for (name, qty) in [("apple", 3i64), ("pear", 1), ("plum", 7)] {
            let result = ops
                .execute_one(
                    &text(INSERT_TEXT_ITEM)
                        .bind("pkid", uuid::Uuid::new_v4().to_string())
                        .bind("now", now)
                        .bind("name", name)
                        .bind("qty", qty),
                )
                .await
                .check(ctx);
            assert_eq!(result.rowcount, 1, "[{ctx}] {name}");
        }
        // Also through a JSON values map, the seed's form.
        let update = text("UPDATE ops_text_items SET qty = :qty WHERE name = :name")
            .values(json!({"name": "pear", "qty": 5}))
            .check(ctx);
        let result = ops.execute_one(&update).await.check(ctx);
        assert_eq!(result.rowcount, 1, "[{ctx}]");
        ops.execute_one(
            &text(INSERT_TEXT_ITEM)
                .bind("pkid", uuid::Uuid::new_v4().to_string())
                .bind("now", now)
                .values(json!({"name": "fig", "qty": 1}))
                .check(ctx),
        )
        .await
        .check(ctx);

        // One parameter used twice, and a string with a colon inside a literal.
        let select = text(
            "SELECT name FROM ops_text_items WHERE qty >= :min AND qty <> :min AND name <> ':min' \
             ORDER BY name",
        )
        .bind("min", 3);
        let names: Vec<String> = ops.read_query(&select).await.check(ctx);
        assert_eq!(names, ["pear", "plum"], "[{ctx}]");
        let by_name: Vec<(String, i64)> = ops
            .read_query(
                &text("SELECT name, qty FROM ops_text_items WHERE name = :name")
                    .bind("name", "pear"),
            )
            .await
            .check(ctx);
        assert_eq!(by_name, [("pear".to_string(), 5)], "[{ctx}]");
        let total: Option<i64> = ops
            .read_one_record(
                &text("SELECT COUNT(*) FROM ops_text_items WHERE qty < :q").bind("q", 6),
            )
            .await
            .check(ctx);
        assert_eq!(total, Some(3), "[{ctx}]");

        // An unbound parameter is invalid input naming it, and nothing runs.
        let err = expect_err(
            ops.read_query::<String>(
                &text("SELECT name FROM ops_text_items WHERE qty = :quantity").bind("qty", 1),
            )
            .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains(":quantity"), "[{ctx}] {err}");
        let err = expect_err(
            ops.execute_one(
                &text("UPDATE ops_text_items SET qty = :new_qty WHERE name = :name")
                    .bind("name", "apple"),
            )
            .await,
            ErrorKind::InvalidInput,
            ctx,
        );
        assert!(err.details().contains(":new_qty"), "[{ctx}] {err}");
        let qty: Option<i64> = ops
            .read_one_record(&text("SELECT qty FROM ops_text_items WHERE name = 'apple'"))
            .await
            .check(ctx);
        assert_eq!(qty, Some(3), "[{ctx}]");
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection

#[derive(Model, Debug, Clone)]
#[model(table = "ops_meta_users")]
struct MetaUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    #[model(unique, size = 50)]
    email: String,
    color: Option<String>,
    #[model(default = "'blue'", size = 20)]
    shade: String,
    age: i64,
}

#[derive(Model, Debug, Clone)]
#[model(table = "ops_meta_events")]
struct MetaEvent {
    #[model(primary_key, auto_increment)]
    id: i64,
    #[model(size = 40)]
    label: String,
}

#[tokio::test]
async fn introspection_matches_the_models() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<MetaUser>().register::<MetaEvent>();
        })
        .await;
        let details = ops.get_columns_details::<MetaUser>().await.check(ctx);
        let names: Vec<&str> = details.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "pkid",
                "date_created",
                "date_updated",
                "name",
                "email",
                "color",
                "shade",
                "age"
            ],
            "[{ctx}]"
        );
        let pkid = &details["pkid"];
        assert_eq!(pkid.sql_type, "VARCHAR(36)", "[{ctx}]");
        assert!(
            pkid.primary_key && !pkid.nullable && !pkid.autoincrement,
            "[{ctx}] {pkid:?}"
        );
        assert_eq!(pkid.default, None, "[{ctx}]");
        let name = &details["name"];
        assert_eq!(name.sql_type, "VARCHAR(100)", "[{ctx}]");
        assert!(
            name.unique && !name.nullable && !name.primary_key,
            "[{ctx}] {name:?}"
        );
        let email = &details["email"];
        assert_eq!(email.sql_type, "VARCHAR(50)", "[{ctx}]");
        assert!(email.unique, "[{ctx}] {email:?}");
        let color = &details["color"];
        assert!(color.nullable && !color.unique, "[{ctx}] {color:?}");
        let text_type = if b.name == "mysql" {
            "LONGTEXT"
        } else {
            "TEXT"
        };
        assert_eq!(color.sql_type, text_type, "[{ctx}]");
        assert_eq!(
            details["shade"].default.as_deref(),
            Some("'blue'"),
            "[{ctx}]"
        );
        assert_eq!(details["shade"].sql_type, "VARCHAR(20)", "[{ctx}]");
        let int_type = if b.is_sqlite() { "INTEGER" } else { "BIGINT" };
        assert_eq!(details["age"].sql_type, int_type, "[{ctx}]");
        assert!(
            !details["age"].nullable && details["age"].default.is_none(),
            "[{ctx}]"
        );
        let stamp_default = match b.name {
            "postgres" => Some("CURRENT_TIMESTAMP AT TIME ZONE 'UTC'"),
            "mysql" => Some("UTC_TIMESTAMP(6)"),
            _ => Some("strftime('%Y-%m-%d %H:%M:%f', 'now')"),
        };
        for stamp in ["date_created", "date_updated"] {
            assert_eq!(
                details[stamp].default.as_deref(),
                stamp_default,
                "[{ctx}] {stamp}"
            );
            assert!(!details[stamp].nullable, "[{ctx}] {stamp}");
        }
        assert!(
            details.values().all(|d| !d.autoincrement),
            "[{ctx}] {details:?}"
        );
        // Serialised with `type` as the key of the SQL type.
        let value = serde_json::to_value(&details["name"]).unwrap();
        assert_eq!(value["type"], "VARCHAR(100)", "[{ctx}]");
        assert_eq!(value["unique"], true, "[{ctx}]");

        let events = ops.get_columns_details::<MetaEvent>().await.check(ctx);
        let id = &events["id"];
        assert!(
            id.primary_key && id.autoincrement && !id.nullable,
            "[{ctx}] {id:?}"
        );
        assert!(!events["label"].autoincrement, "[{ctx}]");

        assert_eq!(
            ops.get_primary_keys::<MetaUser>().await.check(ctx),
            ["pkid"]
        );
        assert_eq!(ops.get_primary_keys::<MetaEvent>().await.check(ctx), ["id"]);
        assert_eq!(
            ops.get_table_names().await.check(ctx),
            ["ops_meta_users", "ops_meta_events"],
            "[{ctx}]"
        );

        // The declared default is the table's: a row inserted without `shade` gets 'blue'.
        ops.execute_one(
            &text(
                "INSERT INTO ops_meta_users (pkid, date_created, date_updated, name, email, age) \
                 VALUES (:pkid, :now, :now, 'n', 'e', 1)",
            )
            .bind("pkid", "meta-1")
            .bind("now", Utc::now().naive_utc()),
        )
        .await
        .check(ctx);
        let shade: Option<String> = ops
            .read_one_record(&text(
                "SELECT shade FROM ops_meta_users WHERE pkid = 'meta-1'",
            ))
            .await
            .check(ctx);
        assert_eq!(shade.as_deref(), Some("blue"), "[{ctx}]");
        // The auto-increment column is one: the database fills it in.
        let event = ops
            .create_one(MetaEvent {
                id: 0,
                label: "first".into(),
            })
            .await
            .check(ctx);
        assert_eq!(event.id, 1, "[{ctx}]");
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// The error's serialised shape

#[derive(Model, Debug, Clone)]
#[model(table = "ops_err_items")]
struct ErrItem {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 50)]
    name: String,
    qty: i64,
}

#[tokio::test]
async fn database_errors_serialise_to_error_and_details() {
    for b in common::backends() {
        let ctx = b.name;
        let (db, ops) = fresh(&b, json!({}), |db| {
            db.register::<ErrItem>();
        })
        .await;
        let item = |name: &str| ErrItem {
            base: SchemaBase::default(),
            name: name.into(),
            qty: 1,
        };
        ops.create_one(item("dup")).await.check(ctx);
        let errors = [
            expect_err(
                ops.create_one(item("dup")).await,
                ErrorKind::IntegrityError,
                ctx,
            ),
            expect_err(
                ops.delete_one::<ErrItem>("no-such-row").await,
                ErrorKind::RecordNotFound,
                ctx,
            ),
            expect_err(
                ops.paginate_query::<ErrItem>(&ErrItem::select(), 0, 1)
                    .await,
                ErrorKind::InvalidInput,
                ctx,
            ),
            expect_err(
                ops.read_query::<Record>(&text("SELECT * FROM ops_no_such_table"))
                    .await,
                ErrorKind::DatabaseError,
                ctx,
            ),
        ];
        for err in errors {
            let value = serde_json::to_value(&err).unwrap();
            let object = value.as_object().expect("an object");
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            assert_eq!(keys, ["error", "details"], "[{ctx}] {value}");
            assert_eq!(value["error"], err.kind().as_str(), "[{ctx}]");
            assert_eq!(value["details"], err.details(), "[{ctx}]");
            assert!(!err.details().is_empty(), "[{ctx}] {value}");
            assert_eq!(
                err.to_string(),
                format!("{}: {}", err.kind(), err.details())
            );
        }
        db.disconnect().await;
    }
}

// ---------------------------------------------------------------------------------------------
// A server that cannot be reached

#[tokio::test]
async fn an_unreachable_server_gives_connection_errors_quickly() {
    tokio::join!(
        unreachable("postgresql://postgres@127.0.0.1:1/test"),
        unreachable("mysql://root@127.0.0.1:1/test"),
    );
}

/// Every operation on `uri` (nothing listens there) fails within a few seconds with a
/// connection or pool-timeout error.
async fn unreachable(uri: &str) {
    let config = DBConfig::new(json!({"database_uri": uri, "pool_timeout": 2})).unwrap();
    let db = AsyncDatabase::new(config);
    db.register::<TextItem>();
    let ops = DatabaseOperations::new(db.clone());
    let check = |what: &str, kind: Option<ErrorKind>, started: Instant| {
        let elapsed = started.elapsed();
        match kind {
            Some(ErrorKind::ConnectionError | ErrorKind::PoolTimeout) => {}
            other => {
                panic!("[{uri}] {what}: expected ConnectionError or PoolTimeout, got {other:?}")
            }
        }
        assert!(
            elapsed < Duration::from_secs(10),
            "[{uri}] {what} took {elapsed:?}"
        );
    };
    macro_rules! attempt {
        ($what:literal, $call:expr) => {{
            let started = Instant::now();
            let result = tokio::time::timeout(Duration::from_secs(20), $call)
                .await
                .unwrap_or_else(|_| panic!("[{uri}] {} hung", $what));
            check($what, result.err().map(|e| e.kind()), started);
        }};
    }
    attempt!("count_query", ops.count_query(&TextItem::select()));
    attempt!(
        "read_query",
        ops.read_query::<TextItem>(&TextItem::select())
    );
    attempt!(
        "create_one",
        ops.create_one(TextItem {
            base: SchemaBase::default(),
            name: "x".into(),
            qty: 1,
        })
    );
    attempt!("execute_one", ops.execute_one(&text("SELECT 1")));
    attempt!(
        "update_one",
        ops.update_one::<TextItem>("some-id", json!({"qty": 2}))
    );
    attempt!("create_tables", db.create_tables());
    attempt!("get_db_session", async {
        db.get_db_session().await.map(|_| ())
    });
}

// ---------------------------------------------------------------------------------------------
// hide_parameters

#[derive(Model, Debug, Clone)]
#[model(table = "ops_hide_users")]
struct HideUser {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, size = 100)]
    name: String,
    age: i64,
}

fn hide_user(name: &str) -> HideUser {
    HideUser {
        base: SchemaBase::default(),
        name: name.into(),
        age: 1,
    }
}

#[tokio::test]
async fn hide_parameters_keeps_bound_values_out_of_error_details() {
    const SECRET: &str = "Secret-Value-4711";
    const BAD_NUMBER: &str = "not-a-number-0815";
    for b in common::backends() {
        for hide in [true, false] {
            let ctx = format!("{} hide_parameters={hide}", b.name);
            let ctx = ctx.as_str();
            let (db, ops) = fresh(&b, json!({"hide_parameters": hide}), |db| {
                db.register::<HideUser>();
            })
            .await;
            ops.create_one(hide_user(SECRET)).await.check(ctx);

            // A duplicate through create_one and through text().
            let dup = expect_err(
                ops.create_one(hide_user(SECRET)).await,
                ErrorKind::IntegrityError,
                ctx,
            );
            assert!(dup.is_unique_violation(), "[{ctx}] {dup:?}");
            let dup_text = expect_err(
                ops.execute_one(
                    &text(
                        "INSERT INTO ops_hide_users (pkid, date_created, date_updated, name, age) \
                         VALUES (:pkid, :now, :now, :name, 1)",
                    )
                    .bind("pkid", "p2")
                    .bind("now", Utc::now().naive_utc())
                    .bind("name", SECRET),
                )
                .await,
                ErrorKind::IntegrityError,
                ctx,
            );
            let shows = |err: &dsg_lib::DatabaseError| {
                err.details().contains(SECRET)
                    || err.to_string().contains(SECRET)
                    || serde_json::to_string(err).unwrap().contains(SECRET)
            };
            if hide {
                assert!(!shows(&dup), "[{ctx}] {dup}");
                assert!(!shows(&dup_text), "[{ctx}] {dup_text}");
            } else if b.name == "mysql" {
                // MySQL quotes the value: hiding it is not vacuous.
                assert!(dup.details().contains(SECRET), "[{ctx}] {dup}");
            }

            // A value of the wrong type, which PostgreSQL and MySQL quote in their messages.
            let sql = match b.name {
                "postgres" => "UPDATE ops_hide_users SET age = CAST(:age AS BIGINT)",
                "mysql" => "UPDATE ops_hide_users SET age = :age",
                _ => continue,
            };
            let err = expect_err(
                ops.execute_one(&text(sql).bind("age", BAD_NUMBER)).await,
                ErrorKind::InvalidInput,
                ctx,
            );
            assert_eq!(err.details().contains(BAD_NUMBER), !hide, "[{ctx}] {err}");
            db.disconnect().await;
        }
    }
}
