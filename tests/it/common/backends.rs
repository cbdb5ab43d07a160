//! Servers the tests run in-process on 127.0.0.1: the `grpc-bank` gRPC
//! backend and the HTTP runners of the example realms (the same code as the
//! `grpc-bank` and `runners` examples), each on a thread and runtime of its
//! own, stopped when dropped.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

#[path = "../../../examples/grpc-bank/server.rs"]
pub mod grpc_bank;
#[path = "../../../examples/runners/runners.rs"]
pub mod runners;

/// A server on its own thread, stopped on drop.
pub struct Background {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Binds 127.0.0.1:0 (or `addr`) and runs `serve(listener, shutdown)`.
    pub fn start<F, Fut>(addr: Option<SocketAddr>, serve: F) -> Background
    where
        F: FnOnce(tokio::net::TcpListener, tokio::sync::oneshot::Receiver<()>) -> Fut
            + Send
            + 'static,
        Fut: Future<Output = ()>,
    {
        let listener = std::net::TcpListener::bind(
            addr.unwrap_or_else(|| "127.0.0.1:0".parse().expect("addr")),
        )
        .expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve(listener, rx).await;
            });
        });
        Background {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The grpc-bank backend.
    pub fn grpc_bank(options: grpc_bank::Options) -> Background {
        Background::start(None, move |listener, stop| async move {
            grpc_bank::serve(listener, options, async {
                let _ = stop.await;
            })
            .await
            .expect("grpc-bank serves");
        })
    }

    /// The bank's HTTP runner.
    pub fn bank_runner(seen: Arc<runners::Seen>) -> Background {
        Background::start(None, move |listener, stop| async move {
            runners::serve_bank(listener, seen, async {
                let _ = stop.await;
            })
            .await
            .expect("bank runner serves");
        })
    }

    /// The shop's HTTP runner, calling the bank through `ingress`.
    pub fn shop_runner(ingress: String, seen: Arc<runners::Seen>) -> Background {
        Background::start(None, move |listener, stop| async move {
            runners::serve_shop(listener, ingress, seen, async {
                let _ = stop.await;
            })
            .await
            .expect("shop runner serves");
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
