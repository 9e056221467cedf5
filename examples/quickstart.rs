//! The seed's database example in Rust, end to end on in-memory SQLite:
//! `cargo run --example quickstart`.
//!
//! Set `DSG_QUICKSTART_URI` to run the same steps against another database, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`.

use dsg_lib::prelude::*;
use dsg_lib::sea_query::Query;

#[derive(Model, Debug, Clone)]
#[model(table = "quickstart_users")]
struct User {
    #[model(flatten)]
    base: SchemaBase,
    #[model(unique, index, size = 100)]
    name: String,
    color: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), DatabaseError> {
    let uri = std::env::var("DSG_QUICKSTART_URI")
        .unwrap_or_else(|_| "sqlite+aiosqlite:///:memory:?cache=shared".into());
    let db_config = DBConfig::new(serde_json::json!({
        "database_uri": uri,
        "echo": false,
        "future": true,
        "pool_recycle": 3600,
    }))?;
    println!("config: {db_config}");
    let async_db = AsyncDatabase::new(db_config);
    async_db.register::<User>();
    async_db.drop_tables().await?;
    async_db.create_tables().await?;
    println!("created tables: {:?}", async_db.table_names());
    let db_ops = DatabaseOperations::new(async_db.clone());

    // Several rows in one transaction with execute_many.
    let inserts = [
        ("Mike", "red"),
        ("Sara", "blue"),
        ("Ann", "red"),
        ("Tom", "green"),
    ]
    .map(|(name, color)| {
        let base = SchemaBase::default();
        text(
            "INSERT INTO quickstart_users (pkid, date_created, date_updated, name, color) \
             VALUES (:pkid, :created, :updated, :name, :color)",
        )
        .bind("pkid", base.pkid)
        .bind("created", base.date_created.naive_utc())
        .bind("updated", base.date_updated.naive_utc())
        .bind("name", name)
        .bind("color", color)
    });
    let results = db_ops.execute_many(inserts).await?;
    println!(
        "execute_many: {} statements, rowcounts {:?}",
        results.len(),
        results.iter().map(|r| r.rowcount).collect::<Vec<_>>()
    );

    let mike = db_ops
        .create_one(User {
            base: SchemaBase::default(),
            name: "Mila".into(),
            color: None,
        })
        .await?;
    println!("create_one: {} ({})", mike.name, mike.base.pkid);

    let red: Vec<User> = db_ops
        .read_query(
            User::select()
                .and_where(User::col("color").eq("red"))
                .order_by("name", Order::Asc),
        )
        .await?;
    println!(
        "read_query (red): {:?}",
        red.iter().map(|u| &u.name).collect::<Vec<_>>()
    );

    let one: Option<User> = db_ops
        .read_one_record(User::select().and_where(User::col("name").eq("Sara")))
        .await?;
    println!("read_one_record (Sara): {:?}", one.map(|u| u.color));

    let mut names = Query::select();
    names
        .column("name")
        .from(User::TABLE)
        .order_by("name", Order::Asc);
    let mut colors = Query::select();
    colors
        .column("color")
        .distinct()
        .from(User::TABLE)
        .and_where(User::col("color").is_not_null())
        .order_by("color", Order::Asc);
    let multi = db_ops
        .read_multi_query::<Record>([("names", names), ("colors", colors)])
        .await?;
    println!(
        "read_multi_query: {}",
        serde_json::to_string(&multi).unwrap_or_default()
    );

    println!(
        "count_query: {}",
        db_ops.count_query(&User::select()).await?
    );
    let page = db_ops
        .paginate_query::<User>(User::select().order_by("name", Order::Asc), 2, 2)
        .await?;
    println!(
        "paginate_query (page 2 of size 2): {:?}, total {}, pages {}",
        page.items.iter().map(|u| &u.name).collect::<Vec<_>>(),
        page.total,
        page.pages
    );

    let update = db_ops
        .execute_one(
            &text("UPDATE quickstart_users SET color = :color WHERE name = :name")
                .bind("color", "purple")
                .bind("name", "Tom"),
        )
        .await?;
    println!("execute_one UPDATE: rowcount {}", update.rowcount);
    let delete = db_ops
        .execute_one(&text("DELETE FROM quickstart_users WHERE name = :name").bind("name", "Ann"))
        .await?;
    println!("execute_one DELETE: rowcount {}", delete.rowcount);
    println!(
        "count after delete: {}",
        db_ops.count_query(&User::select()).await?
    );

    println!(
        "get_columns_details: {}",
        serde_json::to_string_pretty(&db_ops.get_columns_details::<User>().await?)
            .unwrap_or_default()
    );
    println!(
        "get_primary_keys: {:?}",
        db_ops.get_primary_keys::<User>().await?
    );
    println!("get_table_names: {:?}", db_ops.get_table_names().await?);

    async_db.disconnect().await;
    println!("disconnected");
    Ok(())
}
