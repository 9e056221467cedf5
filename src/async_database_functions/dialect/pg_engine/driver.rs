//! A connection driven by the tasks that wait on it, or by a task of its own while several
//! wait on it at once.
//!
//! tokio-postgres splits a connection into a `Client` (which queues requests) and a
//! `Connection` future (which writes them, reads the responses and hands each to its caller).
//! The usual way spawns the `Connection` as a task: then every statement costs two wake-ups
//! between tasks (the request to the connection's task, the response back), which on this
//! machine's two cores cost more than the statement's own client work (1 000 point reads one
//! after another: 73 ms with the connection spawned, 48 ms driven by the caller).
//!
//! So a connection one caller uses is driven by that caller ([`Driver::drive`]): whoever
//! waits on it polls it, at most one at a time (a `try_lock`; whoever finds it taken asks the
//! holder to poll once more, so no wake-up is lost), with a waker that wakes every caller
//! waiting on the connection. A woken caller polls the connection only when its waker fired
//! since its last poll.
//!
//! When a second caller waits on the same connection (a lane's concurrent reads), the
//! connection gets a task of its own, as tokio-postgres's usual way: callers then only wait
//! for their own response, instead of all being woken on each of the connection's events and
//! taking turns at driving it. The task gives the connection back to its callers when at most
//! one waits on it (and when its runtime drops it), waking them so that one drives it on.
//! Whether the task runs is decided under the lock the callers register under, so a caller
//! either is woken by the hand-back or sees that it must drive. A connection nobody waits on
//! is not polled (as sqlx's idle connections are not read); [`Driver::poll_now`] reads what it
//! has (a closed socket) before the pool hands it out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::async_database_functions::dialect::engine_pool::lock;

type Connection = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// The callers waiting on a connection, and who drives it.
#[derive(Default)]
struct Registry {
    /// By caller id: a few (a lane's reads in flight), scanned faster than hashed, and no
    /// table to rehash as callers come and go on every statement.
    wakers: Vec<(u64, Waker)>,
    /// A task of its own drives the connection.
    on_task: bool,
    /// That task's waker, once it has run: the connection's events wake it, not the callers.
    task: Option<Waker>,
}

/// A connection and the callers waiting on it. The connection's waker, whoever polls it: it
/// wakes the connection's task when it has one, else every waiting caller.
struct State {
    /// `None` once it has ended (the socket closed, an I/O error, the client dropped).
    connection: Mutex<Option<Connection>>,
    next: AtomicU64,
    registry: Mutex<Registry>,
    /// [`Registry::on_task`] as last set, read without the lock (a hint only).
    on_task: AtomicBool,
    /// The connection has something to do: its waker fired (its socket, its request queue), or
    /// a caller asked for a poll, since it was last polled. A woken caller polls the
    /// connection only then, not each time it is woken.
    signalled: AtomicBool,
}

impl Wake for State {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.signalled.store(true, Ordering::SeqCst);
        let registry = lock(&self.registry);
        if registry.on_task {
            // Not yet run, it polls the connection when it first runs.
            if let Some(task) = &registry.task {
                task.wake_by_ref();
            }
            return;
        }
        for (_, waker) in &registry.wakers {
            waker.wake_by_ref();
        }
    }
}

/// A `Connection` future and the callers waiting on it.
pub(crate) struct Driver {
    state: Arc<State>,
    /// The connection's waker (see [`State`]).
    waker: Waker,
}

impl Driver {
    pub(crate) fn new(
        connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    ) -> Self {
        let state = Arc::new(State {
            connection: Mutex::new(Some(Box::pin(connection))),
            next: AtomicU64::new(0),
            registry: Mutex::new(Registry::default()),
            on_task: AtomicBool::new(false),
            signalled: AtomicBool::new(false),
        });
        Driver {
            waker: Waker::from(state.clone()),
            state,
        }
    }

    /// Polls the connection (writes what is queued, reads what has arrived), unless another
    /// caller is doing so (that one then polls once more), or its own task drives it.
    pub(crate) fn poll_now(&self) {
        if self.state.on_task.load(Ordering::SeqCst) {
            return;
        }
        self.state.signalled.store(true, Ordering::SeqCst);
        self.pump();
    }

    /// Polls the connection if it has something to do (see [`State::signalled`]), unless
    /// another caller is doing so: that one then polls once more. At most a few polls a
    /// call: a connection that is still signalled after them (a task out of its cooperative
    /// budget is woken at once) has woken every waiting caller, which come back to it.
    fn pump(&self) {
        let state = &self.state;
        for _ in 0..4 {
            let Ok(mut slot) = state.connection.try_lock() else {
                return;
            };
            if state.signalled.swap(false, Ordering::SeqCst) {
                let mut cx = Context::from_waker(&self.waker);
                if let Some(connection) = slot.as_mut()
                    && connection.as_mut().poll(&mut cx).is_ready()
                {
                    // Ended: dropping it closes every caller's response with an error.
                    *slot = None;
                }
            }
            drop(slot);
            if !state.signalled.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    /// Awaits `future` (a request on this connection's client), driving the connection
    /// meanwhile, or letting its task drive it.
    pub(crate) fn drive<F: Future>(&self, future: F) -> Drive<'_, F> {
        Drive {
            driver: self,
            future,
            waiting: Waiting {
                state: &self.state,
                id: None,
            },
            polls: 0,
        }
    }
}

impl Drop for Driver {
    /// Closes the connection now, also while a task drives it (which then ends), as dropping
    /// it did before it had one.
    fn drop(&mut self) {
        let connection = lock(&self.state.connection).take();
        drop(connection);
        self.state.wake_by_ref();
    }
}

pin_project_lite::pin_project! {
    /// [`Driver::drive`]'s future: the request's future held once (an `async fn` would hold
    /// it twice, as its argument and pinned, a kilobyte each for tokio-postgres's query).
    pub(crate) struct Drive<'a, F> {
        driver: &'a Driver,
        #[pin]
        future: F,
        waiting: Waiting<'a>,
        polls: u32,
    }
}

impl<F: Future> Future for Drive<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Poll::Ready(out) = this.future.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        let driver = *this.driver;
        let (others, on_task) = this.waiting.register(cx.waker());
        if on_task || (others && spawn(&driver.state)) {
            // Its task writes the request and hands this caller its response.
            return Poll::Pending;
        }
        *this.polls = this.polls.saturating_add(1);
        if *this.polls <= 2 {
            // This caller's request is to be written now.
            driver.poll_now();
        } else {
            driver.pump();
        }
        this.future.poll(cx)
    }
}

/// Gives the connection a task of its own (several callers wait on it), unless it has one or
/// there is no runtime to run one on; whether a task drives it now.
fn spawn(state: &Arc<State>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    {
        let mut registry = lock(&state.registry);
        if registry.on_task {
            return true;
        }
        registry.on_task = true;
        state.on_task.store(true, Ordering::SeqCst);
    }
    let state = state.clone();
    runtime.spawn(async move {
        let _hand_back = HandBack(&state);
        let waker = Waker::from(state.clone());
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            // Woken (a request queued, a response arrived): first to the back of the run
            // queue, so that the requests the tasks ready to run queue meanwhile go out in the
            // same write (a woken task runs next on a multi-thread runtime otherwise).
            yielded = !yielded;
            if yielded {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            {
                let mut registry = lock(&state.registry);
                match &mut registry.task {
                    Some(task) if task.will_wake(cx.waker()) => {}
                    task => *task = Some(cx.waker().clone()),
                }
            }
            state.signalled.store(false, Ordering::SeqCst);
            let mut slot = lock(&state.connection);
            if let Some(connection) = slot.as_mut()
                && connection
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
            {
                *slot = None;
            }
            if slot.is_none() {
                return Poll::Ready(());
            }
            drop(slot);
            // One caller or none: it drives the connection faster itself.
            if lock(&state.registry).wakers.len() <= 1 {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    });
    true
}

/// Ends a connection's task (its connection ended, few callers wait on it, or its runtime
/// dropped it): its callers drive it again, woken to find so.
struct HandBack<'a>(&'a Arc<State>);

impl Drop for HandBack<'_> {
    fn drop(&mut self) {
        let state = self.0;
        {
            let mut registry = lock(&state.registry);
            registry.on_task = false;
            registry.task = None;
            state.on_task.store(false, Ordering::SeqCst);
        }
        // Every waiting caller, to drive it on (or to find its response closed).
        state.wake_by_ref();
    }
}

/// A caller's place among the waiters, left when its wait ends or is dropped.
struct Waiting<'a> {
    state: &'a State,
    id: Option<u64>,
}

impl Waiting<'_> {
    /// Registers (or refreshes) this caller's waker; whether other callers wait too, and
    /// whether a task of its own drives the connection (read under the same lock, so that a
    /// hand-back after it wakes this caller).
    fn register(&mut self, waker: &Waker) -> (bool, bool) {
        let id = *self
            .id
            .get_or_insert_with(|| self.state.next.fetch_add(1, Ordering::Relaxed));
        let mut registry = lock(&self.state.registry);
        match registry.wakers.iter_mut().find(|(known, _)| *known == id) {
            Some((_, known)) if known.will_wake(waker) => {}
            Some((_, known)) => known.clone_from(waker),
            None => registry.wakers.push((id, waker.clone())),
        }
        (registry.wakers.len() > 1, registry.on_task)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            let mut registry = lock(&self.state.registry);
            if let Some(at) = registry.wakers.iter().position(|(known, _)| *known == id) {
                registry.wakers.swap_remove(at);
            }
        }
    }
}
