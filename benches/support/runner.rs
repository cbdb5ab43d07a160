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
