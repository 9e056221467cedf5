//! [`DBConfig`]: a plain configuration map, validated, turned into typed pool settings.
//!
//! The map has the keys of the Python dsg_lib's `DBConfig`. Each dialect supports a subset;
//! any other key is refused with an error that names the dialect and every offending key:
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::{DBConfig, Dialect};
//!
//! let config = DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
//!     "echo": false,
//!     "future": true,
//!     "pool_recycle": 3600,
//! }))?;
//! assert_eq!(config.dialect(), Dialect::Sqlite);
//!
//! let err = DBConfig::new(serde_json::json!({
//!     "database_uri": "sqlite:///:memory:",
//!     "pool_size": 5,
//!     "max_overflow": 10,
//! }))
//! .unwrap_err();
//! assert!(err.details().contains("sqlite"));
//! assert!(err.details().contains("max_overflow, pool_size"));
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```
//!
//! # From where services keep it
//!
//! From the environment, [`DBConfig::from_env`] reads `DATABASE_URL` and `DSG_DB_*` variables
//! (`DSG_DB_POOL_SIZE=10`); [`DBConfig::from_vars`] does the same over any list of variables.
//! From a file, let serde read the map and hand it to [`DBConfig::from_serializable`] (or
//! [`DBConfig::new`] for JSON): the same keys, the same validation.
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::DBConfig;
//!
//! # let dir = std::env::temp_dir().join(format!("dsg-config-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! // config.toml — a `[database]` table beside the service's other settings.
//! let toml_path = dir.join("config.toml");
//! std::fs::write(&toml_path, r#"
//! [database]
//! database_uri = "postgresql+asyncpg://app:s3cret@db.internal:5432/app"
//! pool_size = 10
//! max_overflow = 5
//! pool_pre_ping = true
//! connect_args = { timeout = 5, application_name = "users-api" }
//! "#).unwrap();
//! let file: toml::Table = toml::from_str(&std::fs::read_to_string(&toml_path).unwrap()).unwrap();
//! let config = DBConfig::from_serializable(&file["database"])?;
//! assert_eq!((config.pool_size(), config.max_connections()), (10, 15));
//! assert!(!format!("{config:?}").contains("s3cret"));
//!
//! // config.json — the Python service's config map, as it was.
//! let json_path = dir.join("config.json");
//! std::fs::write(&json_path, r#"{"database_uri": "sqlite+aiosqlite:///:memory:?cache=shared",
//!                                 "echo": false, "future": true, "pool_recycle": 3600}"#).unwrap();
//! let map: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
//! let config = DBConfig::new(map)?;
//! assert_eq!(config.dialect().name(), "sqlite");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```
//!
//! # Keys
//!
//! | key | SQLite | PostgreSQL / CockroachDB | MySQL / MariaDB | effect |
//! |---|---|---|---|---|
//! | `database_uri` | ✓ | ✓ | ✓ | required; SQLAlchemy or native form |
//! | `echo` | ✓ | ✓ | ✓ | log every statement (target `dsg_lib::sql`) |
//! | `future` | ✓ | ✓ | ✓ | accepted, no effect |
//! | `pool_recycle` | ✓ | ✓ | ✓ | max connection lifetime in seconds (`-1`: none) |
//! | `pool_pre_ping` | ✗ | ✓ | ✓ | test a connection before handing it out |
//! | `pool_size` | ✗ | ✓ | ✓ | with `max_overflow`: max connections (default 5) |
//! | `max_overflow` | ✗ | ✓ | ✓ | added to `pool_size` (default 10) |
//! | `pool_timeout` | ✗ | ✓ | ✓ | seconds to wait for a connection (default 30) |
//! | `connect_args` | ✓ | ✓ | ✓ | driver connect options (see [`DBConfig::new`]) |
//! | `execution_options` | ✓ | ✓ | ✓ | `isolation_level` |
//! | `isolation_level` | ✓ | ✓ | ✓ | every session's transaction isolation; `AUTOCOMMIT`: none |
//! | `query_cache_size` | ✓ | ✓ | ✓ | prepared statement cache per connection (default 500) |
//! | `hide_parameters` | ✓ | ✓ | ✓ | no bound values in logs or errors |
//! | `slow_statement_ms` | ✓ | ✓ | ✓ | warn (target `dsg_lib::sql`) of statements slower than this; off by default |
//! | `retry` | ✓ | ✓ | ✓ | re-running of transactions that failed retryably ([`RetryPolicy`]; default 15 runs) |
//! | `transaction_pooling` | ✗ | ✓ | ✗ | behind a transaction-pooling proxy (pgbouncer): no named prepared statements, every session in a transaction |
//! | `read_replica_uris` | ✗ | ✓ | ✗ | read replicas: reads go there, read-your-writes by WAL position |
//! | `read_replica_max_lag_ms` | ✗ | ✓ | ✗ | how long a read waits for a replica to catch up (default 100) |
//!
//! # Several servers
//!
//! A server URI may name several hosts, as libpq and the MariaDB connectors do:
//! `mysql://root@10.0.0.1:3306,10.0.0.2:3306/app` (a multi-primary cluster: sessions are
//! spread over the live hosts) or
//! `postgresql://u@h1:5432,h2:5432/app?target_session_attrs=read-write` (failover: the first
//! host that is a primary). See [`TargetSessionAttrs`] and the crate's "Scaling out" docs.
//!
//! ```
//! use dsg_lib::async_database_functions::database_config::{DBConfig, TargetSessionAttrs};
//!
//! let config = DBConfig::new(serde_json::json!({
//!     "database_uri": "postgresql://app:s3cret@10.0.0.1:5432,10.0.0.2:5433/app?target_session_attrs=read-write",
//! }))?;
//! assert_eq!(config.hosts(), ["10.0.0.1:5432", "10.0.0.2:5433"]);
//! assert_eq!(config.target_session_attrs(), TargetSessionAttrs::ReadWrite);
//! assert!(!config.to_string().contains("s3cret"));
//! # Ok::<(), dsg_lib::async_database_functions::error::DatabaseError>(())
//! ```

mod config;
mod env;
mod hosts;
mod isolation;
mod keys;
mod limits;
mod replicas;
mod retry;
mod tls;
mod uri;

pub use config::{ConfigMap, ConnectArgs, DBConfig};
pub use env::{DATABASE_URL, ENV_PREFIX};
pub(crate) use hosts::Role;
pub use hosts::TargetSessionAttrs;
pub use isolation::IsolationLevel;
pub use limits::{MAX_CONNECTIONS, MAX_DURATION, MAX_STATEMENT_CACHE};
pub use retry::RetryPolicy;
pub use tls::{PemSource, SslMode};
pub use uri::SqliteTarget;
pub(crate) use uri::host_label;

pub use crate::async_database_functions::core::sql_dialect::Dialect;
