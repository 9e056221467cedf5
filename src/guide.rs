//! The guide: the reference pages of `docs/`, rendered here by `cargo doc`, each Rust example
//! in them run as a doctest.
//!
//! The README is the front page (what the crate is, setting up, the quick start, the
//! features); these pages hold the rest. On GitHub they are `docs/<page>.md`; the links
//! between pages point at those files.
//!
//! | page | what it holds |
//! |---|---|
//! | [`applications`] | for applications: transactions, row locks, typed columns, streaming, column types, enums, upsert, going down to sqlx, the Python library's error strings, constraint names |
//! | [`configuration`] | the configuration keys per dialect, from the environment or a file, the URI forms |
//! | [`service`] | an axum service on the crate: running it, its routes, errors as HTTP |
//! | [`relations`] | related rows: `belongs_to`, eager loading in one query per level |
//! | [`batch`] | many rows by key in one statement: `read_by_pks`, `update_many` |
//! | [`tls`] | TLS to PostgreSQL and MySQL/MariaDB: `sslmode`, certificates |
//! | [`observability`] | tracing spans with OpenTelemetry's fields, echo, slow statements, pool stats |
//! | [`testing`] | the tests against the servers, nextest |
//! | [`scaling`] | scaling out: several hosts, failover, re-running transactions, pgbouncer, read replicas, the test beds |
//! | [`guarantees`] | what the reliability suite proves |
//! | [`migrations`] | versioned migrations: the folder, the history, generating them from the models, the lint, the command line, what each backend does transactionally |
//! | [`performance`] | the benchmarks against hand-written sqlx and the Python library, and what the library does for speed |
//! | [`features`] | the Cargo features |

#[doc = include_str!("../docs/applications.md")]
pub mod applications {}

#[doc = include_str!("../docs/configuration.md")]
pub mod configuration {}

#[doc = include_str!("../docs/service.md")]
pub mod service {}

#[doc = include_str!("../docs/relations.md")]
pub mod relations {}

#[doc = include_str!("../docs/batch.md")]
pub mod batch {}

#[doc = include_str!("../docs/tls.md")]
pub mod tls {}

#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/testing.md")]
pub mod testing {}

#[doc = include_str!("../docs/scaling.md")]
pub mod scaling {}

#[doc = include_str!("../docs/guarantees.md")]
pub mod guarantees {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/features.md")]
pub mod features {}

#[doc = include_str!("../docs/migrations.md")]
pub mod migrations {}
