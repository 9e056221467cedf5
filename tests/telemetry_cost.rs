//! With no subscriber listening, spans and `echo` cost nothing: not one allocation more per
//! operation with `echo` on than off. A binary of its own: its allocator counts per thread,
//! and no other test here installs a subscriber that could change what tracing does.

mod common;
mod ops_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dsg_lib::async_database_functions::database_operations::DatabaseOperations;
use dsg_lib::async_database_functions::statement::text;
use ops_support::Check;
use serde_json::json;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// The fewest allocations of 30 reads with `echo` set as given.
async fn fewest_per_read(echo: bool) -> u64 {
    let backend = &common::backends()[0];
    let statement = text("SELECT :color AS color, :n AS n")
        .bind("color", "red")
        .bind("n", 42);
    let db = backend.database(json!({ "echo": echo }));
    let ops = DatabaseOperations::new(db.clone());
    let mut least = u64::MAX;
    for _ in 0..30 {
        let before = allocations();
        let rows: Vec<(String, i64)> = ops.read_query(&statement).await.check("sqlite");
        let used = allocations() - before;
        drop(rows);
        least = Ord::min(least, used);
    }
    db.disconnect().await;
    least
}

/// The fewest allocations per read in a fresh process (this test binary run again with
/// `DSG_COST_ECHO` set), the fewest over `runs` processes. The count varies between processes
/// by a few allocations for reasons unrelated to echo (it is stable within one), so each
/// side's fewest over several processes is compared.
fn fewest_in_processes(echo: bool, runs: usize) -> u64 {
    (0..runs)
        .map(|_| {
            let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", "child_measures_allocations", "--nocapture"])
                .env("DSG_COST_ECHO", if echo { "on" } else { "off" })
                .output()
                .expect("the child runs");
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .find_map(|l| l.strip_prefix("allocations-per-read: "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no count from the child: {text}"))
        })
        .min()
        .unwrap_or(u64::MAX)
}

/// Run by [`fewest_in_processes`] only.
#[tokio::test(flavor = "current_thread")]
async fn child_measures_allocations() {
    let Ok(echo) = std::env::var("DSG_COST_ECHO") else {
        return;
    };
    println!(
        "allocations-per-read: {}",
        fewest_per_read(echo == "on").await
    );
}

#[tokio::test(flavor = "current_thread")]
async fn with_no_subscriber_echo_and_spans_cost_no_allocation() {
    let off = fewest_in_processes(false, 3);
    let on = fewest_in_processes(true, 3);

    // With a subscriber listening, echo formats its line: that is the cost to look for.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let listening = fewest_per_read(true).await;
    drop(guard);
    let formatting = listening.saturating_sub(Ord::min(on, off));
    println!("allocations per read: echo off {off}, on {on}, listening {listening}");
    // The count varies by a few allocations between runs (the driver's worker thread answers
    // before or after the caller waits), so equality cannot be asked; but formatting the echo
    // line costs far more than that noise, and none of it may show without a subscriber.
    assert!(
        formatting >= 5,
        "a listening subscriber formats the echo line ({listening} vs {on}/{off} allocations)"
    );
    assert!(
        on.abs_diff(off) < formatting,
        "with no subscriber, echo must format nothing: {on} allocations with echo on, {off} off, \
         formatting costs {formatting}"
    );
}
