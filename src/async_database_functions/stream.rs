//! Streaming reads: [`DatabaseOperations::read_stream`] and its [`RowStream`].
//!
//! The rows of a query are decoded one by one as the driver reads them and handed over
//! through a small bounded buffer ([`STREAM_BUFFER`] rows), so memory stays constant however
//! many rows the query returns. The query runs on a pooled connection owned by the stream,
//! in the task that polls it, from its first poll; the stream is a plain owned value (`Send`,
//! `'static`), free to be returned from functions or moved into other tasks.
//!
//! ```
//! use dsg_lib::prelude::*;
//! use futures_util::TryStreamExt;
//!
//! #[derive(Model, Debug, Clone)]
//! #[model(table = "read_stream_doc")]
//! struct Color {
//!     #[model(flatten)]
//!     base: SchemaBase,
//!     #[model(size = 50)]
//!     name: String,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = AsyncDatabase::new(DBConfig::new(serde_json::json!({"database_uri": "sqlite::memory:"}))?);
//! db.register::<Color>();
//! db.create_tables().await?;
//! let ops = DatabaseOperations::new(db);
//! let colors = ["red", "green", "blue"].map(|n| Color { base: SchemaBase::default(), name: n.into() });
//! ops.create_many(colors.to_vec()).await?;
//!
//! let mut select = Color::select();
//! select.order_by((Color::TABLE, "name"), Order::Asc);
//! let mut stream = ops.read_stream::<Color>(&select);
//! let mut names = Vec::new();
//! while let Some(color) = stream.try_next().await? {
//!     names.push(color.name); // one row at a time
//! }
//! assert_eq!(names, ["blue", "green", "red"]);
//! # Ok::<(), DatabaseError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;

use super::async_database::AsyncDatabase;
use super::database_operations::DatabaseOperations;
pub use super::dialect::row_channel::STREAM_BUFFER;
use super::dialect::row_channel::{self, Query, RowReceiver, RowSender};
use crate::async_database_functions::core::error::{DatabaseError, ErrorKind};
use crate::async_database_functions::core::from_row::FromRow;
use crate::async_database_functions::statements::statement::{Rendered, Statement};
use crate::async_database_functions::statements::telemetry::{Rows, operation_span, traced};

/// The rows of one query as a [`Stream`] of `Result<T, DatabaseError>`, from
/// [`DatabaseOperations::read_stream`].
///
/// Nothing runs until it is first polled (inside a Tokio runtime); then the stream takes a
/// connection from the pool and runs the query, decoding rows as they arrive, at most
/// [`STREAM_BUFFER`] rows ahead of the consumer. The query runs in the polling task itself,
/// as sqlx's own `fetch` does: no task of its own, no wake-up of another thread per row. An
/// error ends the stream: it is its last item.
///
/// Dropping the stream before its end stops the query at once: the connection, which still
/// has unread rows on it, is closed rather than returned to the pool, and the pool opens a
/// fresh one when it next needs it.
pub struct RowStream<T> {
    /// The query: runs until it hands a row over or waits for the database; `None` once done.
    query: Option<Query>,
    started: bool,
    rows: RowReceiver<T>,
}

// The rows are never pinned: polling only moves them out of the slot or the batch.
impl<T> Unpin for RowStream<T> {}

impl<T> fmt::Debug for RowStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStream")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for RowStream<T> {
    type Item = Result<T, DatabaseError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.started = true;
        this.rows.poll_next(cx, &mut this.query)
    }
}

impl DatabaseOperations {
    /// Every row of `select` as `T` (a model, a scalar, a tuple or a
    /// [`Record`](crate::async_database_functions::core::record::Record)), as a stream that holds constant memory however
    /// many rows the query returns: see [`RowStream`].
    ///
    /// The statement is rendered at once; it runs when the stream is first polled, inside the
    /// operation's `read_stream` span, which records the rows returned when the stream ends.
    /// As other reads, a query whose connection turned out to be gone is run once more on a
    /// fresh connection, but only when no row has been returned yet.
    pub fn read_stream<T>(&self, select: impl Statement) -> RowStream<T>
    where
        T: FromRow + 'static,
    {
        let db = self.database().clone();
        let span = operation_span!("read_stream", db.config(), None);
        let rendered = select.render(db.config().dialect());
        let types_vary = select.types_vary();
        let (tx, rows) = row_channel::channel();
        let start: Query = Box::pin(async move {
            let run = async {
                let rendered = rendered?;
                let mut sent = 0u64;
                match stream_once(&db, rendered.clone(), types_vary, &tx, &mut sent).await {
                    Err(e) if e.kind() == ErrorKind::ConnectionError && sent == 0 => {
                        tracing::debug!(target: "dsg_lib", error = %e, "read retried on a fresh connection");
                        stream_once(&db, rendered, types_vary, &tx, &mut sent).await?;
                    }
                    result => result?,
                }
                Ok(sent)
            };
            if let Err(e) = traced!(span, run, |n| Rows::Returned(*n)) {
                tx.fail(e);
            }
        });
        RowStream {
            query: Some(start),
            started: false,
            rows,
        }
    }
}

/// Runs the query once on a session of its own, sending each row; counts the rows sent.
async fn stream_once<T: FromRow>(
    db: &AsyncDatabase,
    rendered: Rendered,
    types_vary: bool,
    tx: &RowSender<T>,
    sent: &mut u64,
) -> Result<(), DatabaseError> {
    let mut session = db.session(false).await?;
    session
        .stream_rendered(rendered, types_vary, tx, sent)
        .await
}
