//! `dsg-migrate`: versioned migrations from the command line, on the database of
//! `DATABASE_URL` (and `DSG_DB_*`): `up`, `down`, `status`, `lint`. `generate` needs the
//! program's models: see `dsg_lib::async_database_functions::migrations::cli`.

use dsg_lib::async_database_functions::migrations::cli;
use dsg_lib::{AsyncDatabase, DBConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| a == "-h" || a == "--help" || a == "help")
    {
        println!("{}", cli::USAGE);
        return;
    }
    let config = match DBConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    let db = AsyncDatabase::new(config);
    let code = cli::run(&db, args).await;
    db.disconnect().await;
    std::process::exit(code);
}
