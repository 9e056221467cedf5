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

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use super::async_database::AsyncDatabase;
use super::database_operations::DatabaseOperations;
use super::error::{DatabaseError, ErrorKind};
use super::row::FromRow;
use super::statement::{Rendered, Statement};
use super::telemetry::{Rows, operation_span, traced};

/// How many decoded rows a [`RowStream`] buffers ahead of its consumer at most.
///
/// On PostgreSQL and MySQL/MariaDB, whose drivers run in the task that polls the stream, a row
/// is decoded when the consumer asks for it: one row at a time, as sqlx's own `fetch`. SQLite's
/// engine runs the query on a thread of its own and keeps up to this many rows ready.
pub const STREAM_BUFFER: usize = 64;

/// SQLite's engine hands rows over in batches of at most this many: one wake of the consumer
/// per batch rather than per row. A batch goes as soon as the consumer has nothing left, so a
/// row is never held back for rows that have not been read yet.
pub(crate) const BATCH_ROWS: usize = STREAM_BUFFER / 4;

/// Batches the channel holds: with the consumer's batch and the one being filled, at most
/// [`STREAM_BUFFER`] decoded rows are alive.
const BATCHES: usize = STREAM_BUFFER / BATCH_ROWS - 2;

type Start = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Rows handed over together, in order.
pub(crate) type Batch<T> = VecDeque<T>;

/// The query's end of a stream.
///
/// A driver that runs in the consumer's task hands over one row at a time
/// ([`yield_row`](Self::yield_row)): the row the consumer asked for, no more. Holding a batch of
/// decoded rows instead costs more than the batch: the consumer then frees the rows' strings in
/// bursts, more than the allocator's per-thread cache holds, and glibc's `malloc` merges them
/// back on the next large request (`malloc_consolidate`). With batches of 16, a PostgreSQL
/// stream of 10 000 rows spent about 450 instructions a row more in `malloc` and `free` than
/// sqlx's row-by-row `fetch` (callgrind: 9% of the stream's client instructions) and was no
/// faster; row by row, the same as sqlx.
///
/// SQLite's engine, on a thread of its own, hands over batches ([`blocking_send`](Self::blocking_send)),
/// and fills the batches the consumer has emptied rather than new ones.
pub(crate) struct RowSender<T> {
    /// The next item, handed over in the consumer's task.
    slot: Arc<Slot<T>>,
    batches: mpsc::Sender<Result<Batch<T>, DatabaseError>>,
    emptied: Arc<Emptied<T>>,
}

/// One item handed over within the consumer's task. (A mutex rather than a cell only so that
/// the stream is `Send`: it is never contended.)
struct Slot<T>(Mutex<Option<Result<T, DatabaseError>>>);

impl<T> Slot<T> {
    fn put(&self, item: Result<T, DatabaseError>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(item);
        }
    }

    fn take(&self) -> Option<Result<T, DatabaseError>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Batches the consumer has emptied, for SQLite's engine to fill again (at most [`BATCHES`] +
/// 2 exist per stream): one allocation per stream rather than per batch.
struct Emptied<T>(Mutex<Vec<Batch<T>>>);

impl<T> Emptied<T> {
    #[cfg(feature = "sqlite")]
    fn take(&self) -> Batch<T> {
        self.0
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_else(|| Batch::with_capacity(BATCH_ROWS))
    }

    fn give_back(&self, batch: Batch<T>) {
        if batch.capacity() > 0
            && let Ok(mut spare) = self.0.lock()
        {
            spare.push(batch);
        }
    }
}

impl<T> Clone for RowSender<T> {
    fn clone(&self) -> Self {
        RowSender {
            slot: self.slot.clone(),
            batches: self.batches.clone(),
            emptied: self.emptied.clone(),
        }
    }
}

impl<T> RowSender<T> {
    /// Hands `row` to the consumer, from a query running in the consumer's task, and counts it
    /// in `sent`: returns once the consumer asks for the next row.
    pub(crate) async fn yield_row(&self, row: T, sent: &mut u64) {
        self.slot.put(Ok(row));
        *sent += 1;
        // Suspends the query once, without a wake-up: the stream's `poll_next` finds the row in
        // the slot as soon as the query returns `Pending`, and resumes the query when it is
        // polled for the next row.
        let mut yielded = false;
        std::future::poll_fn(|_| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                Poll::Pending
            }
        })
        .await
    }

    /// An empty batch to fill.
    #[cfg(feature = "sqlite")]
    pub(crate) fn batch(&self) -> Batch<T> {
        self.emptied.take()
    }

    /// Hands `batch` over (when it holds rows) from a thread outside the runtime (SQLite's
    /// engine), blocking it while the consumer is [`STREAM_BUFFER`] rows behind, and leaves an
    /// empty batch in its place; counts the rows in `sent`. `false` when the consumer is gone.
    #[cfg(feature = "sqlite")]
    pub(crate) fn blocking_send(&self, batch: &mut Batch<T>, sent: &mut u64) -> bool {
        if batch.is_empty() {
            return true;
        }
        let n = batch.len() as u64;
        let full = std::mem::replace(batch, self.emptied.take());
        if self.batches.blocking_send(Ok(full)).is_err() {
            return false;
        }
        *sent += n;
        true
    }

    /// Whether the consumer has taken every batch handed over so far.
    #[cfg(feature = "sqlite")]
    pub(crate) fn drained(&self) -> bool {
        self.batches.capacity() == self.batches.max_capacity()
    }

    /// Ends the stream with `error`, after the rows handed over before it.
    fn fail(&self, error: DatabaseError) {
        self.slot.put(Err(error));
    }
}

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
    query: Option<Start>,
    started: bool,
    /// A row handed over in this task, or the error that ended the query.
    slot: Arc<Slot<T>>,
    /// Batches from SQLite's engine thread.
    rows: mpsc::Receiver<Result<Batch<T>, DatabaseError>>,
    /// The rest of the batch being handed out.
    batch: Batch<T>,
    emptied: Arc<Emptied<T>>,
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
        loop {
            if let Some(row) = this.batch.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            match this.rows.try_recv() {
                Ok(Ok(batch)) => {
                    this.take(batch);
                    continue;
                }
                Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                // The query finished and dropped its senders: every batch was handed out; what
                // is left is the error that ended it, if any.
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Poll::Ready(this.slot.take());
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            // Nothing buffered: the query runs until it hands a row over, waits for the
            // database (with this task's waker), or ends.
            if let Some(query) = this.query.as_mut() {
                match query.as_mut().poll(cx) {
                    // Dropping the query drops its senders: the channel ends after its last batch.
                    Poll::Ready(()) => {
                        this.query = None;
                        continue;
                    }
                    Poll::Pending => {
                        if let Some(row) = this.slot.take() {
                            return Poll::Ready(Some(row));
                        }
                        if !this.rows.is_empty() {
                            continue;
                        }
                    }
                }
            }
            // About to wait: rows handed over from another thread (SQLite's engine) wake this
            // task. (Only here: a waker registered while the query runs in this task would be
            // woken by its every batch, for nothing.)
            match this.rows.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => this.take(batch),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(this.slot.take()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> RowStream<T> {
    /// Hands out `batch` next; the emptied one goes back to the query.
    fn take(&mut self, batch: Batch<T>) {
        self.emptied
            .give_back(std::mem::replace(&mut self.batch, batch));
    }
}

impl DatabaseOperations {
    /// Every row of `select` as `T` (a model, a scalar, a tuple or a
    /// [`Record`](super::record::Record)), as a stream that holds constant memory however
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
        let (batches, rows) = mpsc::channel(BATCHES);
        let slot = Arc::new(Slot(Mutex::new(None)));
        let emptied = Arc::new(Emptied(Mutex::new(Vec::new())));
        let tx = RowSender {
            slot: slot.clone(),
            batches,
            emptied: emptied.clone(),
        };
        let start: Start = Box::pin(async move {
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
            slot,
            rows,
            batch: Batch::new(),
            emptied,
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
