//! The quick start: in-memory SQLite, a model with `SchemaBase`, a table, rows written and read
//! in a session, then disconnect. Run with `cargo run --example quickstart`.

use dsg_lib::Model;
use dsg_lib::async_database_functions::{
    async_database::AsyncDatabase, base_schema::SchemaBase, database_config::DBConfig,
    error::DatabaseError, model::Model as _,
};
use dsg_lib::sea_query::{Expr, ExprTrait, Query};

#[derive(Model, Debug, Clone)]
#[model(table = "users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), DatabaseError> {
    let db_config = DBConfig::new(serde_json::json!({
        "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
        "echo": false,
        "future": true,
        "pool_recycle": 3600,
    }))?;
    println!("config: {db_config}");
    let async_db = AsyncDatabase::new(db_config);
    async_db.register::<User>();
    async_db.create_tables().await?;
    println!("created tables: {:?}", async_db.table_names());

    let mut session = async_db.get_db_session().await?;
    for (name, color) in [("Mike", Some("red")), ("Sara", Some("blue")), ("Ann", None)] {
        let mut user = User {
            base: SchemaBase::default(),
            name: name.into(),
            color: color.map(Into::into),
        };
        dsg_lib::async_database_functions::model::ColumnSet::before_insert(&mut user);
        let mut insert = Query::insert();
        insert
            .into_table(User::TABLE)
            .columns(User::columns().iter().map(|c| c.name));
        let mut values = Vec::new();
        dsg_lib::async_database_functions::model::ColumnSet::push_values(
            &user,
            async_db.config().dialect(),
            &mut values,
        );
        insert.values_panic(values.into_iter().map(Expr::val));
        session.execute(&insert).await?;
    }
    session.commit().await?;
    println!("inserted 3 users");

    let mut session = async_db.get_db_session().await?;
    let red: Vec<User> = session
        .fetch_all(User::select().and_where(User::col("color").eq("red")))
        .await?;
    println!("red users: {red:#?}");
    let count: Option<i64> = session
        .fetch_optional(
            Query::select()
                .expr(Expr::col("name").count())
                .from(User::TABLE),
        )
        .await?;
    println!("user count: {count:?}");
    session.commit().await?;

    async_db.disconnect().await;
    println!("disconnected");
    Ok(())
}
