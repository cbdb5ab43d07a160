//! The example bank's HTTP runner (`examples/runners/`), started in the
//! benchmark's own process on a runtime of its own. Included by path
//! (`#[path = "support/runner.rs"] mod runner;`) by the benches that call
//! it (`ingress`, `queue`), not from `support/mod.rs`, so that the others
//! do not build the runners.

#[path = "../../examples/runners/runners.rs"]
mod runners;

use std::net::SocketAddr;
use std::sync::Arc;

/// Starts the bank's runner on 127.0.0.1, port 0, on a thread of its own:
/// its address.
#[allow(dead_code)] // The ingress bench's; the queue bench's runner is a `Switchable`.
pub fn bank_runner() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            runners::serve_bank(
                listener,
                Arc::new(runners::Seen::default()),
                std::future::pending(),
            )
            .await
            .expect("runner");
        });
    });
    addr
}

/// The bank's runner as [`bank_runner`] starts it, that can be taken down
/// (its connections closed, its port refusing) and brought back on the
/// same address: the target of queued calls during an outage.
#[allow(dead_code)] // The queue bench's; the ingress bench has no outage.
pub struct Switchable {
    pub addr: SocketAddr,
    seen: Arc<runners::Seen>,
    /// Ends the runner, and where it says it has ended.
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::sync::mpsc::Receiver<()>,
    )>,
}

#[allow(dead_code)]
impl Switchable {
    pub fn start() -> Switchable {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut runner = Switchable {
            addr: listener.local_addr().expect("addr"),
            seen: Arc::new(runners::Seen::default()),
            running: None,
        };
        runner.serve(listener);
        runner
    }

    fn serve(&mut self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ended, end) = std::sync::mpsc::channel();
        let seen = self.seen.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let serving =
                    tokio::spawn(runners::serve_bank(listener, seen, std::future::pending()));
                let _ = stopped.await;
                serving.abort();
            });
            // Its connections' tasks end with the runtime: closed at once,
            // not when their clients let them go.
            drop(runtime);
            let _ = ended.send(());
        });
        self.running = Some((stop, end));
    }

    /// Stops accepting and closes its connections: calls to it are
    /// refused until [`Switchable::up`]. Returns once it has stopped.
    pub fn down(&mut self) {
        let (stop, end) = self.running.take().expect("the runner is up");
        let _ = stop.send(());
        end.recv_timeout(std::time::Duration::from_secs(30))
            .expect("the runner did not stop");
    }

    /// Serves again on the same address.
    pub fn up(&mut self) {
        assert!(self.running.is_none(), "the runner is up");
        let listener =
            std::net::TcpListener::bind(self.addr).expect("bind the runner's address again");
        self.serve(listener);
    }
}
