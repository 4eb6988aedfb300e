//! Runs the simulator until Ctrl-C.
//!
//! `cargo run -p konto-register-sim --example register-sim [PORT [DATA_FILE]]`
//! (default port 24729, default data the embedded `companies.json`); point konto at it with
//! `KONTO_REGISTER__URL=http://127.0.0.1:24729`.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(24729), |p| p.parse())?;
    let mut config = konto_register_sim::SimConfig::new(SocketAddr::from(([127, 0, 0, 1], port)));
    config.data_file = args.next().map(Into::into);
    let sim = konto_register_sim::spawn(config).await?;
    println!(
        "commercial register: {}v1/entries/{{court}}/{{type}}/{{number}}",
        sim.url
    );
    println!("e.g. curl {}v1/entries/M%C3%BCnchen/HRB/123456", sim.url);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
