//! An idle pool whose server stops answering (neither refusing nor closing: a host that hangs,
//! a network that drops packets), on each configured server, through a proxy of the test's own
//! that can be stalled: it then forwards nothing, and holds new connections unanswered.
//!
//! - With `pool_pre_ping`, the ping of an idle connection is cut off at the caller's
//!   `pool_timeout`: the operation fails with an error in time instead of waiting for ever, and
//!   the pool works again once the host answers.
//! - An operation cancelled while its connection is being opened leaves nothing counted: the
//!   pool's statistics do not count a connection that was never opened.

mod common;
mod reliability_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Backend;
use dsg_lib::prelude::*;
use reliability_support::{servers, within};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to a server that forwards while it runs and, stalled, forwards nothing and
/// leaves new connections unanswered (bytes are held, not lost, until it runs again).
struct StallingProxy {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallingProxy {
    async fn to(target: SocketAddr) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("the proxy's address");
        let stalled = Arc::new(AtomicBool::new(false));
        let gate = stalled.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let gate = gate.clone();
                tokio::spawn(async move {
                    wait_while(&gate).await;
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::join!(pump(ri, wo, gate.clone()), pump(ro, wi, gate));
                });
            }
        });
        StallingProxy {
            addr,
            stalled,
            accept,
        }
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    fn run(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// `backend`'s URI with its host and port replaced by the proxy's.
    fn uri(&self, backend: &Backend) -> String {
        let mut url = url::Url::parse(&backend.uri).expect("a server URI");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(self.addr.port())).expect("a port");
        url.to_string()
    }
}

impl Drop for StallingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn wait_while(stalled: &AtomicBool) {
    while stalled.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies `from` to `to`, holding what it read while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        wait_while(&stalled).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_while(&stalled).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The server's address in `backend`'s URI.
async fn server_addr(backend: &Backend) -> SocketAddr {
    let url = url::Url::parse(&backend.uri).expect("a server URI");
    let host = url.host_str().expect("a host");
    let port = url.port_or_known_default().expect("a port");
    tokio::net::lookup_host((host, port))
        .await
        .expect("the server's address")
        .next()
        .expect("an address")
}

/// A database on `backend` through `proxy`, with one connection at most and `extra` keys.
fn through(proxy: &StallingProxy, backend: &Backend, extra: serde_json::Value) -> AsyncDatabase {
    let proxied = Backend {
        name: backend.name,
        uri: proxy.uri(backend),
    };
    let mut keys = json!({ "pool_size": 1, "max_overflow": 0 });
    if let (Some(m), Some(e)) = (keys.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    proxied.database(keys)
}

/// A read of the connection's id: what the server answers, or the error.
async fn read_id(ops: &DatabaseOperations, backend: &Backend) -> Result<Vec<i64>, DatabaseError> {
    ops.read_query::<i64>(text(backend.connection_id_sql()))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_pinged_checkout_from_a_host_that_stops_answering_fails_in_time() {
    for backend in servers() {
        let name = backend.name;
        let proxy = StallingProxy::to(server_addr(&backend).await).await;
        let db = through(
            &proxy,
            &backend,
            json!({ "pool_pre_ping": true, "pool_timeout": 2 }),
        );
        let ops = DatabaseOperations::new(db.clone());
        let first = within(30, format!("{name}: first read"), read_id(&ops, &backend)).await;
        assert!(first.is_ok(), "{name}: the first read: {first:?}");
        assert_eq!(db.pool_stats().idle, 1, "{name}: its connection idle");

        proxy.stall();
        let started = Instant::now();
        let stalled = within(
            60,
            format!("{name}: a read while the host does not answer"),
            read_id(&ops, &backend),
        )
        .await;
        let took = started.elapsed();
        let err = stalled.expect_err("no answer from the host, yet a result");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::PoolTimeout | ErrorKind::ConnectionError
            ),
            "{name}: a host that does not answer is a timeout or a connection error: {err}"
        );
        // A try is cut off at `pool_timeout` (2 s); retries of a read take a few more.
        assert!(
            took < Duration::from_secs(20),
            "{name}: the read waited {took:?} for a host that does not answer"
        );
        let stats = db.pool_stats();
        assert!(
            stats.size <= stats.max,
            "{name}: {} connections counted open, at most {} may be",
            stats.size,
            stats.max
        );

        proxy.run();
        let again = within(30, format!("{name}: a read once it answers"), async {
            read_id(&ops, &backend).await
        })
        .await;
        assert!(
            again.is_ok(),
            "{name}: the pool works again once the host answers: {again:?}"
        );
        let stats = db.pool_stats();
        assert_eq!(
            (stats.size, stats.in_use),
            (1, 0),
            "{name}: one connection open, none in use"
        );
        within(30, format!("{name}: disconnect"), db.disconnect()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_cancelled_while_its_connection_opens_leaves_nothing_counted() {
    for backend in servers() {
        let name = backend.name;
        let proxy = StallingProxy::to(server_addr(&backend).await).await;
        let db = through(&proxy, &backend, json!({ "pool_timeout": 30 }));
        let ops = DatabaseOperations::new(db.clone());

        proxy.stall();
        for _ in 0..3 {
            let cut = tokio::time::timeout(Duration::from_millis(300), read_id(&ops, &backend));
            assert!(
                cut.await.is_err(),
                "{name}: a read answered by a host that does not answer"
            );
        }
        let stats = db.pool_stats();
        assert_eq!(
            (stats.size, stats.in_use, stats.waiting),
            (0, 0, 0),
            "{name}: three reads cancelled while connecting leave no connection counted"
        );

        proxy.run();
        let read = within(30, format!("{name}: a read once it answers"), async {
            read_id(&ops, &backend).await
        })
        .await;
        assert!(read.is_ok(), "{name}: {read:?}");
        let stats = db.pool_stats();
        assert_eq!(
            (stats.size, stats.idle, stats.in_use),
            (1, 1, 0),
            "{name}: one connection open and idle after the read"
        );
        within(30, format!("{name}: disconnect"), db.disconnect()).await;
    }
}
