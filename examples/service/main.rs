//! A users API on axum over dsg_lib: the Rust form of a FastAPI service on the Python dsg_lib.
//!
//! ```sh
//! cargo run --example service                      # in-memory SQLite on 127.0.0.1:8000
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test DSG_DB_POOL_SIZE=10 \
//! BIND_ADDR=0.0.0.0:8080 ERROR_STYLE=python cargo run --example service
//! ```
//!
//! - `BIND_ADDR`: where to listen (default `127.0.0.1:8000`).
//! - `DATABASE_URL` and `DSG_DB_*`: the database configuration, read by
//!   `DBConfig::from_env` (default: in-memory SQLite).
//! - `ERROR_STYLE`: `kinds` (default) or `python` for the Python dsg_lib's error strings.
//! - `RUST_LOG`: the log filter (default `info`): one line per request, and the library's.
//!
//! Ctrl-C or SIGTERM stops it gracefully: requests in flight finish, then the database is
//! disconnected. The routes and the error mapping are in `app.rs`.

mod app;

use std::process::ExitCode;

use dsg_lib::async_database_functions::database_config::DATABASE_URL;
use dsg_lib::async_database_functions::error::ErrorStyle;
use dsg_lib::prelude::*;

/// The database when `DATABASE_URL` is not set.
const DEFAULT_DATABASE_URL: &str = "sqlite+aiosqlite:///:memory:?cache=shared";
const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8000";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let config = if set(DATABASE_URL) || set("DSG_DB_DATABASE_URI") {
        DBConfig::from_env()
    } else {
        // Every DSG_DB_* variable still applies, over the default database.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .chain([(DATABASE_URL.to_string(), DEFAULT_DATABASE_URL.to_string())]);
        DBConfig::from_vars(vars)
    }
    .map_err(|e| format!("configuration: {e}"))?;
    let error_style = match std::env::var("ERROR_STYLE") {
        Ok(name) => ErrorStyle::parse(&name)
            .ok_or_else(|| format!("ERROR_STYLE must be kinds or python, got {name:?}"))?,
        Err(_) => ErrorStyle::Kinds,
    };
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| DEFAULT_BIND_ADDR.into());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;

    let app = app::App::new(config, error_style);
    tracing::info!(database = %app.database().config(), "starting");
    // Tables are created now; if the database is down, the service starts anyway (ready
    // answers 503) and creates them on the first request that reaches the database.
    if let Err(e) = app.create_tables().await {
        tracing::warn!(error = %e, "tables not created yet: the database is not reachable");
    }
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tracing::info!("listening on http://{addr}");
    app.serve(listener, shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))
}

/// Resolves on Ctrl-C, or on SIGTERM (what container runtimes send) on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
