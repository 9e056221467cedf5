//! Helpers shared by `operations_read.rs` and `operations_write.rs`.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io;
use std::sync::{Arc, Mutex};

use dsg_lib::async_database_functions::async_database::AsyncDatabase;
use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::error::{DatabaseError, ErrorKind};
use serde_json::Value;

use crate::common::Backend;

/// A database on `backend` (with `extra` config keys) whose registered tables were just
/// dropped and created again, and the operations over it.
pub async fn fresh(
    backend: &Backend,
    extra: Value,
    register: impl FnOnce(&AsyncDatabase),
) -> (AsyncDatabase, DatabaseOperations) {
    let db = backend.database(extra);
    register(&db);
    db.drop_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] drop_tables: {e}", backend.name));
    db.create_tables()
        .await
        .unwrap_or_else(|e| panic!("[{}] create_tables: {e}", backend.name));
    let ops = DatabaseOperations::new(db.clone());
    (db, ops)
}

/// `unwrap` for operation results that names the backend.
pub trait Check<T> {
    /// The value, or a panic naming `ctx` and the error.
    fn check(self, ctx: &str) -> T;
}

impl<T> Check<T> for Result<T, DatabaseError> {
    #[track_caller]
    fn check(self, ctx: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("[{ctx}] unexpected error: {e} (code {:?})", e.code()),
        }
    }
}

/// Asserts `result` is an error of `kind` and returns it.
#[track_caller]
pub fn expect_err<T: Debug>(
    result: Result<T, DatabaseError>,
    kind: ErrorKind,
    ctx: &str,
) -> DatabaseError {
    match result {
        Ok(v) => panic!("[{ctx}] expected a {kind} error, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "[{ctx}] wrong error kind: {e}");
            e
        }
    }
}

/// Collects what a `tracing` subscriber writes, to inspect the statements `echo` logs.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything written since the last call, emptied.
    pub fn take(&self) -> String {
        let mut buf = self.0.lock().unwrap();
        String::from_utf8_lossy(&std::mem::take(&mut *buf)).into_owned()
    }

    /// Everything written so far, left in place.
    pub fn peek(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Installs a subscriber writing into this capture on the current thread.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            // `echo` logs statements at DEBUG.
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
