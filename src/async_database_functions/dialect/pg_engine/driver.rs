//! A connection driven by the tasks that wait on it, not by a task of its own.
//!
//! tokio-postgres splits a connection into a `Client` (which queues requests) and a
//! `Connection` future (which writes them, reads the responses and hands each to its caller).
//! The usual way spawns the `Connection` as a task: then every statement costs two wake-ups
//! between tasks (the request to the connection's task, the response back), which on this
//! machine's two cores cost more than the statement's own client work (1 000 point reads one
//! after another: 73 ms with the connection spawned, 48 ms driven by the caller).
//!
//! Here whoever waits on the connection polls it ([`Driver::drive`]): at most one at a time
//! (a `try_lock`; whoever finds it taken asks the holder to poll once more, so no wake-up is
//! lost), with a waker that wakes every caller waiting on the connection, so that any of them
//! that is still there drives it next. A woken caller polls the connection only when its
//! waker fired since its last poll; the others find nothing to do. A caller that queues a
//! request while others wait on the connection yields once before driving it, so that the
//! requests other tasks queue meanwhile go out in the same write (as a connection task's
//! would). A caller's own response wakes the caller directly. A connection nobody waits on is
//! not polled (as sqlx's idle connections are not read); [`Driver::poll_now`] reads what it
//! has (a closed socket) before the pool hands it out.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type Connection = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// The tasks waiting on a connection: all are woken when it has something to do.
#[derive(Default)]
struct Waiters {
    next: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker, foldhash::fast::RandomState>>,
    /// The connection has something to do: its waker fired (its socket, its request queue), or
    /// a caller asked for a poll, since it was last polled. A woken caller polls the
    /// connection only then, not each time it is woken.
    signalled: AtomicBool,
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signalled.store(true, Ordering::SeqCst);
        for waker in lock(&self.wakers).values() {
            waker.wake_by_ref();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `Connection` future and the callers waiting on it.
pub(crate) struct Driver {
    /// `None` once it has ended (the socket closed, an I/O error, the client dropped).
    connection: Mutex<Option<Connection>>,
    waiters: Arc<Waiters>,
    waker: Waker,
}

impl Driver {
    pub(crate) fn new(
        connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    ) -> Self {
        let waiters = Arc::new(Waiters::default());
        Driver {
            connection: Mutex::new(Some(Box::pin(connection))),
            waker: Waker::from(waiters.clone()),
            waiters,
        }
    }

    /// Polls the connection (writes what is queued, reads what has arrived), unless another
    /// caller is doing so: that one then polls once more.
    pub(crate) fn poll_now(&self) {
        self.waiters.signalled.store(true, Ordering::SeqCst);
        self.pump();
    }

    /// Polls the connection if it has something to do (see [`Waiters::signalled`]), unless
    /// another caller is doing so: that one then polls once more. At most a few polls a
    /// call: a connection that is still signalled after them (a task out of its cooperative
    /// budget is woken at once) has woken every waiting caller, which come back to it.
    fn pump(&self) {
        for _ in 0..4 {
            let Ok(mut slot) = self.connection.try_lock() else {
                return;
            };
            if self.waiters.signalled.swap(false, Ordering::SeqCst) {
                let mut cx = Context::from_waker(&self.waker);
                if let Some(connection) = slot.as_mut()
                    && connection.as_mut().poll(&mut cx).is_ready()
                {
                    // Ended: dropping it closes every caller's response with an error.
                    *slot = None;
                }
            }
            drop(slot);
            if !self.waiters.signalled.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    /// Awaits `future` (a request on this connection's client), driving the connection
    /// meanwhile.
    pub(crate) async fn drive<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut waiting = Waiting {
            waiters: &self.waiters,
            id: None,
        };
        let mut polls = 0u32;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = future.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            let others = waiting.register(cx.waker());
            polls = polls.saturating_add(1);
            if polls == 1 && others {
                // Others wait on this connection: this request is queued; written with the
                // ones other tasks queue meanwhile, in one write, after this task yields.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if polls <= 2 {
                // This caller's request is to be written now.
                self.poll_now();
            } else {
                self.pump();
            }
            future.as_mut().poll(cx)
        })
        .await
    }
}

/// A caller's place among the waiters, left when its wait ends or is dropped.
struct Waiting<'a> {
    waiters: &'a Waiters,
    id: Option<u64>,
}

impl Waiting<'_> {
    /// Registers (or refreshes) this caller's waker; whether other callers wait too.
    fn register(&mut self, waker: &Waker) -> bool {
        let id = *self
            .id
            .get_or_insert_with(|| self.waiters.next.fetch_add(1, Ordering::Relaxed));
        let mut wakers = lock(&self.waiters.wakers);
        match wakers.get_mut(&id) {
            Some(known) if known.will_wake(waker) => {}
            Some(known) => known.clone_from(waker),
            None => {
                wakers.insert(id, waker.clone());
            }
        }
        wakers.len() > 1
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(&self.waiters.wakers).remove(&id);
        }
    }
}
