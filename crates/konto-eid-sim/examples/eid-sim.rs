//! Runs the simulator with the development certificates of `keys-dev/eid/` until Ctrl-C.
//!
//! `cargo run -p konto-eid-sim --example eid-sim [SOAP_PORT [CLIENT_PORT]]`
//! (default ports 24728 and 24727, the AusweisApp's port, so an unchanged konto configuration
//! reaches it at `http://127.0.0.1:24727/eID-Client`).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let soap_port: u16 = args.next().map_or(Ok(24728), |p| p.parse())?;
    let client_port: u16 = args.next().map_or(Ok(24727), |p| p.parse())?;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-dev/eid");
    let read = |f: &str| std::fs::read(format!("{dir}/{f}"));
    let config = konto_eid_sim::SimConfig::new(
        SocketAddr::from(([127, 0, 0, 1], soap_port)),
        SocketAddr::from(([127, 0, 0, 1], client_port)),
        read("server.pem")?,
        read("server.key")?,
        read("ca.pem")?,
    );
    let sim = konto_eid_sim::spawn(config).await?;
    println!("eID-Server (SOAP, mutual TLS): {}", sim.soap_url);
    println!("eID client:                    {}", sim.client_url);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
