//! The hand-off of a streamed query's rows from the executor to the consumer: a
//! [`RowSender`] for the query (row by row in the consumer's task, or in batches from SQLite's
//! engine thread) and a [`RowReceiver`] that `stream::RowStream` wraps.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use crate::async_database_functions::core::error::DatabaseError;

/// How many decoded rows a stream (`RowStream`) buffers ahead of its consumer at most.
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
    pub(crate) fn fail(&self, error: DatabaseError) {
        self.slot.put(Err(error));
    }
}

/// The consumer's end: what `RowStream` polls.
pub(crate) struct RowReceiver<T> {
    /// A row handed over in the consumer's task, or the error that ended the query.
    slot: Arc<Slot<T>>,
    /// Batches from SQLite's engine thread.
    rows: mpsc::Receiver<Result<Batch<T>, DatabaseError>>,
    /// The rest of the batch being handed out.
    batch: Batch<T>,
    emptied: Arc<Emptied<T>>,
}

/// A query feeding a [`RowSender`], run in the consumer's task by [`RowReceiver::poll_next`].
pub(crate) type Query = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A channel of rows: the query's end and the consumer's.
pub(crate) fn channel<T>() -> (RowSender<T>, RowReceiver<T>) {
    let (batches, rows) = mpsc::channel(BATCHES);
    let slot = Arc::new(Slot(Mutex::new(None)));
    let emptied = Arc::new(Emptied(Mutex::new(Vec::new())));
    let tx = RowSender {
        slot: slot.clone(),
        batches,
        emptied: emptied.clone(),
    };
    let rx = RowReceiver {
        slot,
        rows,
        batch: Batch::new(),
        emptied,
    };
    (tx, rx)
}

impl<T> RowReceiver<T> {
    /// The next row, running `query` (while it is `Some`; `None` once it ended) in this task
    /// when nothing is buffered: until it hands a row over, waits for the database (with this
    /// task's waker), or ends.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        query: &mut Option<Query>,
    ) -> Poll<Option<Result<T, DatabaseError>>> {
        loop {
            if let Some(row) = self.batch.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            match self.rows.try_recv() {
                Ok(Ok(batch)) => {
                    self.take(batch);
                    continue;
                }
                Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                // The query finished and dropped its senders: every batch was handed out; what
                // is left is the error that ended it, if any.
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    return Poll::Ready(self.slot.take());
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            // Nothing buffered: the query runs until it hands a row over, waits for the
            // database (with this task's waker), or ends.
            if let Some(running) = query.as_mut() {
                match running.as_mut().poll(cx) {
                    // Dropping the query drops its senders: the channel ends after its last batch.
                    Poll::Ready(()) => {
                        *query = None;
                        continue;
                    }
                    Poll::Pending => {
                        if let Some(row) = self.slot.take() {
                            return Poll::Ready(Some(row));
                        }
                        if !self.rows.is_empty() {
                            continue;
                        }
                    }
                }
            }
            // About to wait: rows handed over from another thread (SQLite's engine) wake this
            // task. (Only here: a waker registered while the query runs in this task would be
            // woken by its every batch, for nothing.)
            match self.rows.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.take(batch),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(self.slot.take()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Hands out `batch` next; the emptied one goes back to the query.
    fn take(&mut self, batch: Batch<T>) {
        self.emptied
            .give_back(std::mem::replace(&mut self.batch, batch));
    }
}
