//! The `runners` example: HTTP JSON runners of the example realms.
//!
//!     cargo run --example runners -- bank 127.0.0.1:9101
//!     cargo run --example runners -- shop 127.0.0.1:9102 http://127.0.0.1:8871
//!
//! Port 0 lets the system pick a free port; the runner prints the address
//! it listens on (`bank runner listening on http://127.0.0.1:PORT`). The
//! shop's ingress URL may be `@FILE`, a file read at each call: the shop's
//! ingress can then start after its runner, on a port it picks too
//! (`examples/demo.sh` does that).

mod runners;

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: runners bank ADDR | runners shop ADDR (SHOP_INGRESS_URL | @FILE)";
    let (which, addr) = match args.as_slice() {
        [which, addr, ..] => (which.as_str(), addr.as_str()),
        _ => return Err(usage.into()),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "{which} runner listening on http://{}",
        listener.local_addr()?
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let seen = Arc::new(runners::Seen::default());
    match (which, args.get(2)) {
        ("bank", _) => runners::serve_bank(listener, seen, shutdown).await?,
        ("shop", Some(ingress)) => {
            runners::serve_shop(listener, ingress.clone(), seen, shutdown).await?
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
