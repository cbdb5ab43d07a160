//! The `grpc-bank` example backend: a gRPC server with reflection, to import
//! as a realm (`realm import grpc`) and to serve its calls behind `realm
//! serve`.
//!
//!     cargo run --example grpc-bank -- [--listen 127.0.0.1:50051] [--reflection v1|v1alpha|both|none]
//!
//! `--listen 127.0.0.1:0` lets the system pick a free port; the server
//! prints the address it listens on (`grpc-bank listening on
//! http://127.0.0.1:PORT`).

mod server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut listen = "127.0.0.1:50051".to_string();
    let mut options = server::Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            ("--reflection", Some(mode)) => {
                options.reflection = match mode.as_str() {
                    "v1" => server::Reflection::V1,
                    "v1alpha" => server::Reflection::V1Alpha,
                    "both" => server::Reflection::Both,
                    "none" => server::Reflection::None,
                    other => return Err(format!("unknown reflection mode {other}").into()),
                }
            }
            _ => return Err(format!(
                "usage: grpc-bank [--listen ADDR] [--reflection v1|v1alpha|both|none] (got {arg})"
            )
            .into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("grpc-bank listening on http://{}", listener.local_addr()?);
    server::serve(listener, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
