//! The ingress's log on stderr: one line per call, written by a background
//! thread so that a slow terminal or pipe never holds a call.
//!
//! Lines are collected per worker thread and handed to that thread in
//! batches: when the worker is about to sleep ([`flush`], from the
//! runtime's park hook) or when its batch reaches [`BATCH`] bytes. Handing
//! over each line cost a channel send, often a wake-up of the writer and
//! one `write(2)` per call: 1.0 `write` and 0.2 `futex` calls per
//! forwarded call under load (`perf stat`), with batches one per ten calls
//! or fewer. A line waits at most until its worker has nothing else to do.
//! Threads that never call [`flush`] (not ingress workers) write each line
//! through at once.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::OnceLock;

use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};

/// The most bytes a worker holds before handing them over.
const BATCH: usize = 32 << 10;

/// The writer thread's end.
static OUT: OnceLock<NonBlocking> = OnceLock::new();

/// This thread's lines not yet handed over.
#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    /// The thread calls [`flush`] when it goes idle: lines may wait.
    batched: bool,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Starts the writer thread and makes it the log's output (filter from
/// `REALM_LOG`, default `info`); lines are written until the guard is
/// dropped.
pub fn init() -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(io::stderr());
    let _ = OUT.set(writer);
    let filter = tracing_subscriber::EnvFilter::try_from_env("REALM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Batched)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .try_init();
    guard
}

/// Hands this thread's lines to the writer thread; from now on its lines
/// are batched. For a worker's park hook, and before the log ends.
pub fn flush() {
    let lines = PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.batched = true;
        std::mem::take(&mut pending.lines)
    });
    hand_over(&lines);
}

fn hand_over(lines: &[u8]) {
    if lines.is_empty() {
        return;
    }
    if let Some(out) = OUT.get() {
        let _ = out.clone().write_all(lines);
    }
}

/// Where log lines are written: this thread's batch.
struct Batched;

impl Write for Batched {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let full = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            if !pending.batched {
                return Some(line.to_vec());
            }
            pending.lines.extend_from_slice(line);
            (pending.lines.len() >= BATCH).then(|| std::mem::take(&mut pending.lines))
        });
        if let Some(lines) = full {
            hand_over(&lines);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
