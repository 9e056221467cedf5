//! A program's own migration command: its models registered, then dsg_lib's migration command
//! line (`up`, `down`, `status`, `generate`, `lint`) on the database of `DATABASE_URL`. Copy it
//! to `src/bin/migrate.rs` with your models.
//!
//! ```text
//! DATABASE_URL=sqlite:///app.db cargo run --example migrate -- --dir migrations generate init
//! DATABASE_URL=sqlite:///app.db cargo run --example migrate -- --dir migrations up
//! DATABASE_URL=sqlite:///app.db cargo run --example migrate -- --dir migrations status
//! ```

use dsg_lib::async_database_functions::migrations::cli;
use dsg_lib::prelude::*;

/// The program's models (here: a small example).
#[derive(Model, Debug, Clone)]
#[model(table = "mig_x_authors")]
struct Author {
    #[model(flatten)]
    base: SchemaBase,
    #[model(size = 100, unique, index)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "mig_x_books")]
struct Book {
    #[model(flatten)]
    base: SchemaBase,
    #[model(belongs_to = Author, size = 36, index, on_delete = "cascade")]
    author_id: String,
    #[model(size = 200)]
    title: String,
}

#[tokio::main]
async fn main() {
    let db = match DBConfig::from_env() {
        Ok(config) => AsyncDatabase::new(config),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    db.register::<Author>();
    db.register::<Book>();
    let code = cli::run(&db, std::env::args().skip(1)).await;
    db.disconnect().await;
    std::process::exit(code);
}
