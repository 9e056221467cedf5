//! `#[derive(Model)]` without a compiler harness: the metadata it generates (table name,
//! columns, flags, types) and a model using every attribute, round-tripped on every backend.
//! Compile-fail cases are not covered here.

mod common;

use dsg_lib::Model;
use dsg_lib::async_database_functions::base_schema::SchemaBase;
use dsg_lib::async_database_functions::model::{ColumnSet, Model as _, ServerDefault, SqlType};
use dsg_lib::async_database_functions::statement::text;
use dsg_lib::sea_query::{Expr, Order, Query, SqliteQueryBuilder};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
struct UserAccount {
    #[model(primary_key)]
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[allow(clippy::upper_case_acronyms)]
struct HTTPLog {
    #[model(primary_key, size = 36)]
    id: String,
}

/// A reusable group of columns, flattened into models.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(no_table)]
struct Audited {
    #[model(index, size = 64)]
    changed_by: Option<String>,
    #[model(default = "0")]
    revision: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_der_custom")]
struct Custom {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    #[model(column = "type", size = 20, default = "'member'")]
    kind: String,
    #[model(comment = "free text")]
    r#note: Option<String>,
    #[model(foreign_key = "t_der_team.pkid", size = 36)]
    team: Option<String>,
    #[model(flatten)]
    audit: Audited,
    score: f64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "t_der_team")]
struct Team {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 30)]
    title: String,
}

#[test]
fn default_table_names_are_snake_case() {
    assert_eq!(UserAccount::TABLE, "user_account");
    assert_eq!(HTTPLog::TABLE, "http_log");
    assert_eq!(Custom::TABLE, "t_der_custom");
}

#[test]
fn columns_follow_declaration_order_with_flattened_sets_in_place() {
    let names: Vec<&str> = Custom::columns().iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "pkid",
            "date_created",
            "date_updated",
            "name",
            "type",
            "note",
            "team",
            "changed_by",
            "revision",
            "score",
        ]
    );
    assert_eq!(Custom::primary_keys(), ["pkid"]);
    assert_eq!(Audited::column_list().len(), 2);
}

#[test]
fn column_attributes_are_recorded() {
    let col = |name: &str| Custom::column(name).unwrap_or_else(|| panic!("no column {name}"));

    let pkid = col("pkid");
    assert!(pkid.primary_key && pkid.index && !pkid.nullable);
    assert_eq!(pkid.sql_type, SqlType::String(Some(36)));
    let created = col("date_created");
    assert_eq!(created.sql_type, SqlType::TimestampUtc);
    assert_eq!(
        created.server_default,
        Some(ServerDefault::CurrentUtcTimestamp)
    );
    assert!(created.index);

    let name = col("name");
    assert!(name.unique && name.index && !name.nullable && !name.primary_key);
    assert_eq!(name.sql_type, SqlType::String(Some(100)));

    let kind = col("type");
    assert_eq!(kind.default, Some("'member'"));
    assert_eq!(kind.sql_type, SqlType::String(Some(20)));
    assert!(Custom::column("kind").is_none(), "the column is renamed");

    let note = col("note");
    assert!(note.nullable);
    assert_eq!(note.comment, Some("free text"));
    assert_eq!(note.sql_type, SqlType::String(None));

    let team = col("team");
    assert_eq!(team.foreign_key, Some(("t_der_team", "pkid")));
    assert!(team.nullable);

    let changed_by = col("changed_by");
    assert!(changed_by.index && changed_by.nullable);
    let revision = col("revision");
    assert_eq!(revision.sql_type, SqlType::Integer);
    assert_eq!(revision.default, Some("0"));

    let score = col("score");
    assert_eq!(score.sql_type, SqlType::Double);
    assert!(!score.nullable && !score.unique && !score.index && score.default.is_none());

    let id = UserAccount::column("id").unwrap();
    assert_eq!(id.sql_type, SqlType::BigInteger);
    assert!(id.primary_key && !id.auto_increment);
}

#[test]
fn select_reads_every_column_of_the_table() {
    let sql = Custom::select()
        .and_where(Custom::col("name").eq("x"))
        .to_string(SqliteQueryBuilder);
    assert!(sql.starts_with("SELECT \"t_der_custom\".\"pkid\""), "{sql}");
    assert!(sql.contains("\"t_der_custom\".\"type\""), "{sql}");
    assert!(sql.contains("FROM \"t_der_custom\""), "{sql}");
    assert!(
        sql.contains("WHERE \"t_der_custom\".\"name\" = 'x'"),
        "{sql}"
    );
}

#[test]
fn push_values_match_the_columns() {
    let row = Custom {
        base: SchemaBase::new(),
        name: "n".into(),
        kind: "k".into(),
        note: None,
        team: None,
        audit: Audited {
            changed_by: Some("me".into()),
            revision: 3,
        },
        score: 1.0,
    };
    let mut values = Vec::new();
    row.push_values(
        dsg_lib::async_database_functions::database_config::Dialect::Sqlite,
        &mut values,
    );
    assert_eq!(values.len(), Custom::columns().len());
}

#[tokio::test]
async fn a_model_using_every_attribute_round_trips() {
    for backend in common::backends() {
        let db = backend.database(json!({}));
        db.register::<Custom>();
        db.register::<Team>();
        db.drop_tables().await.unwrap();
        db.create_tables()
            .await
            .unwrap_or_else(|e| panic!("{}: create_tables: {e}", backend.name));

        let team = Team {
            base: SchemaBase::new(),
            title: "blue".into(),
        };
        let rows = vec![
            Custom {
                base: SchemaBase::new(),
                name: "ann".into(),
                kind: "admin".into(),
                note: Some("hello".into()),
                team: Some(team.base.pkid.clone()),
                audit: Audited {
                    changed_by: Some("bob".into()),
                    revision: 2,
                },
                score: 0.5,
            },
            Custom {
                base: SchemaBase::new(),
                name: "cid".into(),
                kind: "member".into(),
                note: None,
                team: None,
                audit: Audited {
                    changed_by: None,
                    revision: 0,
                },
                score: -3.25,
            },
        ];
        let mut session = db.get_db_session().await.unwrap();
        for values in [
            {
                let mut v = Vec::new();
                team.push_values(session.config().dialect(), &mut v);
                (Team::TABLE, Team::columns(), v)
            },
            {
                let mut v = Vec::new();
                rows[0].push_values(session.config().dialect(), &mut v);
                (Custom::TABLE, Custom::columns(), v)
            },
            {
                let mut v = Vec::new();
                rows[1].push_values(session.config().dialect(), &mut v);
                (Custom::TABLE, Custom::columns(), v)
            },
        ] {
            let (table, columns, v) = values;
            let mut insert = Query::insert();
            insert
                .into_table(table)
                .columns(columns.iter().map(|c| c.name))
                .values_panic(v.into_iter().map(Expr::val));
            session
                .execute(&insert)
                .await
                .unwrap_or_else(|e| panic!("{}: insert into {table}: {e}", backend.name));
        }
        session.commit().await.unwrap();

        let mut session = db.get_db_session().await.unwrap();
        let mut select = Custom::select();
        select.order_by("name", Order::Asc);
        let read: Vec<Custom> = session.fetch_all(&select).await.unwrap();
        assert_eq!(read, rows, "{}", backend.name);

        // The renamed column and the defaults work in SQL written by hand.
        session
            .execute(
                &text("INSERT INTO t_der_custom (pkid, date_created, date_updated, name, score) VALUES (:p, :d, :d, :n, 1.5)")
                    .bind("p", uuid::Uuid::new_v4().to_string())
                    .bind("d", chrono::Utc::now().naive_utc())
                    .bind("n", "dee"),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        let dee: Option<(String, i32)> = session
            .fetch_optional(
                &text("SELECT type, revision FROM t_der_custom WHERE name = :n").bind("n", "dee"),
            )
            .await
            .unwrap();
        assert_eq!(dee, Some(("member".to_string(), 0)), "{}", backend.name);
        session.commit().await.unwrap();
        db.drop_tables().await.unwrap();
        db.disconnect().await;
    }
}
