//! The ingress's log on stderr: one line per call, written by a background
//! thread so that a slow terminal or pipe never holds a call.
//!
//! Lines are collected per worker thread and handed over when the worker
//! is about to sleep ([`flush`], from the runtime's park hook), when its
//! batch reaches [`BATCH`] bytes or is older than [`GATHER`] as a line is
//! added, and when the thread ends; the writer thread is woken only when
//! lines arrive while it has none, then lets them gather for [`GATHER`]
//! and writes them with one `write(2)`. A line waits for its worker to go
//! idle or to log again, and then at most about 50 ms.
//!
//! Why not `tracing-appender`'s non-blocking writer: it sends each line
//! over a channel and wakes its thread for it. Under load that was 1.0
//! `write(2)` and 0.2 `futex` calls per forwarded call (`perf stat`); with
//! one connection, its thread's wake-ups and spinning took 18 % of the
//! ingress's CPU samples (perf), this writer 0.3 %. Here the writer wakes
//! at most 20 times a second.
//!
//! Bounded: at most [`MAX_PENDING`] bytes wait for the writer; lines beyond
//! are dropped and counted, and the count is logged once there is room.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most bytes a worker holds before handing them over.
const BATCH: usize = 32 << 10;

/// How long the writer lets lines gather before writing them.
const GATHER: Duration = Duration::from_millis(50);

/// The most bytes waiting for the writer (a stalled stderr must not make
/// the ingress hold lines without end).
const MAX_PENDING: usize = 8 << 20;

/// The most of its buffers the writer keeps between writes (about what
/// 50 ms of 40k calls a second log).
const KEEP: usize = 1 << 20;

/// What the workers hand to the writer thread.
#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    /// Lines dropped because `lines` was full.
    dropped: u64,
    /// The log is closing: write what is left and stop.
    closed: bool,
}

#[derive(Default)]
struct Writer {
    pending: Mutex<Pending>,
    arrived: Condvar,
}

static WRITER: OnceLock<Arc<Writer>> = OnceLock::new();

/// This thread's lines not yet handed over.
#[derive(Default)]
struct Batch {
    lines: Vec<u8>,
    /// When the first of `lines` came.
    since: Option<Instant>,
    /// The thread calls [`flush`] when it goes idle: its lines may wait.
    batched: bool,
}

impl Batch {
    /// Hands the lines over, keeping the buffer for the next ones (a new
    /// buffer per batch, grown line by line and freed after, cost page
    /// faults under load).
    fn hand_over(&mut self) {
        hand_over(&self.lines);
        self.lines.clear();
        self.lines.shrink_to(BATCH * 2);
        self.since = None;
    }
}

impl Drop for Batch {
    /// A thread that ends hands over what it has.
    fn drop(&mut self) {
        hand_over(&self.lines);
    }
}

thread_local! {
    static BATCH_OF_THREAD: RefCell<Batch> = RefCell::new(Batch::default());
}

/// How long the end of the log waits for the writer to write what is left
/// (stderr may be a pipe nobody reads).
const LAST_WRITE: Duration = Duration::from_secs(2);

/// Writes the remaining lines and stops the writer thread when dropped.
pub struct Guard {
    thread: Option<(JoinHandle<()>, std::sync::mpsc::Receiver<()>)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        flush();
        if let Some(writer) = WRITER.get() {
            lock(writer).closed = true;
            writer.arrived.notify_one();
        }
        if let Some((thread, done)) = self.thread.take()
            && done.recv_timeout(LAST_WRITE).is_ok()
        {
            let _ = thread.join();
        }
    }
}

fn lock(writer: &Writer) -> std::sync::MutexGuard<'_, Pending> {
    writer
        .pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the writer thread and makes it the log's output (filter from
/// `REALM_LOG`, default `info`); lines are written until the guard is
/// dropped.
pub fn init() -> Guard {
    let writer = WRITER.get_or_init(Arc::default).clone();
    let (finished, done) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("realm-log".into())
        .spawn(move || {
            write_lines(&writer, &mut io::stderr());
            let _ = finished.send(());
        })
        .ok()
        .map(|thread| (thread, done));
    let filter = tracing_subscriber::EnvFilter::try_from_env("REALM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_writer(|| Batched)
        .with_env_filter(filter);
    // A terminal gets colours; a file or pipe the same text, written
    // faster (`log_format`).
    let _ = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        lines
            .with_target(false)
            .with_ansi(true)
            .compact()
            .try_init()
    } else {
        lines
            .with_ansi(false)
            .event_format(super::log_format::Line::new())
            .try_init()
    };
    Guard { thread }
}

/// The writer thread: waits for lines, lets them gather, writes them.
fn write_lines(writer: &Writer, out: &mut impl Write) {
    // Swapped with the pending lines: the two buffers are reused.
    let mut lines = Vec::new();
    loop {
        let mut pending = lock(writer);
        while pending.lines.is_empty() && !pending.closed {
            pending = writer
                .arrived
                .wait(pending)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if !pending.closed {
            drop(pending);
            std::thread::sleep(GATHER);
            pending = lock(writer);
        }
        std::mem::swap(&mut lines, &mut pending.lines);
        let dropped = std::mem::take(&mut pending.dropped);
        let closed = pending.closed;
        drop(pending);
        let _ = out.write_all(&lines);
        lines.clear();
        // A burst may have grown it; what a busy ingress writes in one
        // gathering stays.
        lines.shrink_to(KEEP);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "WARN {dropped} log lines dropped: stderr was not written fast enough"
            );
        }
        let _ = out.flush();
        if closed {
            return;
        }
    }
}

/// Hands this thread's lines to the writer thread; from now on its lines
/// are batched. For a worker's park hook, and before the log ends.
pub fn flush() {
    BATCH_OF_THREAD.with(|batch| {
        let mut batch = batch.borrow_mut();
        batch.batched = true;
        batch.hand_over();
    });
}

fn hand_over(lines: &[u8]) {
    let Some(writer) = WRITER.get() else {
        return;
    };
    if lines.is_empty() {
        return;
    }
    let mut pending = lock(writer);
    if pending.closed {
        // After the log's end (a line logged while the process exits):
        // written here, as there is no writer any more.
        drop(pending);
        let _ = io::stderr().write_all(lines);
        return;
    }
    let was_empty = pending.lines.is_empty();
    if pending.lines.len() + lines.len() > MAX_PENDING {
        pending.dropped += lines.iter().filter(|b| **b == b'\n').count() as u64;
        return;
    }
    pending.lines.extend_from_slice(lines);
    drop(pending);
    if was_empty {
        writer.arrived.notify_one();
    }
}

/// Where log lines are written: this thread's batch (or, on a thread that
/// never calls [`flush`], straight to the writer).
struct Batched;

impl Write for Batched {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let batched = BATCH_OF_THREAD.try_with(|batch| {
            let mut batch = batch.borrow_mut();
            if !batch.batched {
                return false;
            }
            batch.lines.extend_from_slice(line);
            let since = *batch.since.get_or_insert_with(Instant::now);
            if batch.lines.len() >= BATCH || since.elapsed() >= GATHER {
                batch.hand_over();
            }
            true
        });
        // Not batched, or the thread is ending and its batch is gone:
        // straight over.
        if !matches!(batched, Ok(true)) {
            hand_over(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_once_gathered_and_the_rest_when_closed() {
        let writer = Arc::new(Writer::default());
        let out = Arc::new(Mutex::new(Vec::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().expect("out").extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let thread = {
            let (writer, out) = (writer.clone(), out.clone());
            std::thread::spawn(move || write_lines(&writer, &mut Shared(out)))
        };
        lock(&writer).lines.extend_from_slice(b"one\n");
        writer.arrived.notify_one();
        let deadline = Instant::now() + Duration::from_secs(30);
        while out.lock().expect("out").is_empty() {
            assert!(Instant::now() < deadline, "the writer wrote nothing");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*out.lock().expect("out"), b"one\n");
        {
            let mut pending = lock(&writer);
            pending.lines.extend_from_slice(b"two\n");
            pending.dropped = 3;
            pending.closed = true;
        }
        writer.arrived.notify_one();
        thread.join().expect("writer");
        let text = String::from_utf8(out.lock().expect("out").clone()).expect("utf-8");
        assert_eq!(
            text,
            "one\ntwo\nWARN 3 log lines dropped: stderr was not written fast enough\n"
        );
    }
}
