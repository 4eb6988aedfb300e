//! konto's load benchmark (see README.md). Run it with `scripts/bench`.

mod client;
mod orgs;
mod postbox;
mod saml;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use hdrhistogram::Histogram;

use crate::client::{Acting, Conn};
use crate::server::Konto;

#[derive(Parser, Clone)]
#[command(about = "Load benchmark for konto")]
struct Args {
    /// The konto binary (release build).
    #[arg(long, default_value = "target/release/konto")]
    konto: std::path::PathBuf,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections for the token grants.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Concurrent browsers for the code flows.
    #[arg(long, default_value_t = 4)]
    browsers: usize,
    /// Start-ups to take the median ready time of.
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// SQLite durability: `full` (konto's default: every acknowledged write on disk, group
    /// commit) or `normal`.
    #[arg(long, default_value = "full")]
    durability: String,
    /// Run against this (empty) database instead of a new SQLite file, e.g.
    /// `postgres://postgres@127.0.0.1:5432/konto_bench`.
    #[arg(long)]
    database: Option<String>,
    /// Only these phases (comma-separated: ready, cc, refresh, refresh_chain, mandate_check,
    /// argon2, flow, flow_chain, saml_flow, postbox_send, postbox_inbox, postbox_memory).
    /// `refresh_chain` and `flow_chain` act for company A under the mandate chain and run right
    /// after their plain counterparts, for a ratio, and so does `saml_flow` (signed request,
    /// password, signed response with the assertion signed and encrypted). `postbox_inbox` first fills the postbox to
    /// 10,000 messages.
    #[arg(
        long,
        default_value = "ready,cc,refresh,refresh_chain,mandate_check,argon2,flow,flow_chain,saml_flow,postbox_send,postbox_inbox,postbox_memory"
    )]
    phases: String,
}

/// One measured phase.
struct Phase {
    name: &'static str,
    ops: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    server_cpu: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// Server CPU per successful operation, in µs.
    fn cpu_per_op(&self) -> f64 {
        if self.ops > 0 {
            self.server_cpu.as_micros() as f64 / self.ops as f64
        } else {
            0.0
        }
    }

    /// This phase against `plain`: the rate as a share of its rate, and the server CPU per
    /// operation as a share of its (the second moves less with the machine's noise).
    fn against(&self, plain: &Phase) -> String {
        format!(
            "{} / {} = {:.0} % (server CPU per operation: {:.0} %)",
            self.name,
            plain.name,
            self.rate() / plain.rate() * 100.0,
            self.cpu_per_op() / plain.cpu_per_op() * 100.0
        )
    }

    fn report(&self) -> String {
        format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {} |",
            self.name,
            self.rate(),
            self.latency.value_at_quantile(0.5) as f64 / 1000.0,
            self.latency.value_at_quantile(0.99) as f64 / 1000.0,
            self.cpu_per_op(),
            self.errors
        )
    }
}

/// Runs `workers` loops of `op` for `seconds`, counting successes and latencies (µs).
async fn drive<F, Fut, S>(
    name: &'static str,
    konto: &server::Running,
    seconds: u64,
    states: Vec<S>,
    op: F,
) -> Result<Phase>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu_before = konto.cpu_time()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let template = Histogram::<u64>::new(3)?;
    for state in states {
        let empty = template.clone();
        let stop = Arc::clone(&stop);
        let ops = Arc::clone(&ops);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut hist = empty;
            let mut state = state;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (next, ok) = op(state).await;
                state = next;
                if ok {
                    ops.fetch_add(1, Ordering::Relaxed);
                    let _ = hist.record(t.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            hist
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let mut latency = Histogram::<u64>::new(3)?;
    for t in tasks {
        latency.add(t.await?)?;
    }
    let server_cpu = konto.cpu_time()?.saturating_sub(cpu_before);
    Ok(Phase {
        name,
        ops: ops.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        latency,
        server_cpu,
    })
}

/// Argon2id with konto's parameters on every core, for `seconds`: hashes per second. Each thread
/// reuses its working memory, so this is the pure cost of the hash (the strictest yardstick).
fn argon2_rate(seconds: u64) -> f64 {
    use argon2::{Algorithm, Argon2, Block, Params, Version};
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let params = Params::new(
                    Params::DEFAULT_M_COST,
                    Params::DEFAULT_T_COST,
                    Params::DEFAULT_P_COST,
                    Some(32),
                )
                .ok();
                let Some(params) = params else { return };
                let mut blocks = vec![Block::default(); params.block_count()];
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    if argon
                        .hash_password_into_with_memory(
                            b"correct horse battery",
                            b"saltsaltsaltsalt",
                            &mut out,
                            &mut blocks,
                        )
                        .is_ok()
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let phases: Vec<&str> = args.phases.split(',').collect();
    let konto = Konto::prepare(&args.konto, &args.durability, args.database.as_deref())
        .await
        .context("preparing konto")?;

    let mut lines = Vec::new();
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let store = match &args.database {
        Some(url) if url.starts_with("postgres") => "PostgreSQL (local)".to_owned(),
        _ => format!("SQLite ({})", args.durability),
    };
    lines.push(format!(
        "machine: {cores} cores; konto: release, {store}, ES256 client; {} s per phase",
        args.seconds
    ));

    let mut running = konto.start().await?;
    if phases.contains(&"ready") {
        let mut ready = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..args.starts {
            running.stop().await;
            running = konto.start().await?;
            ready.push(running.ready.as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(500)).await;
            rss.push(running.rss_kib()? as f64 / 1024.0);
        }
        lines.push(format!(
            "start to ready: median {:.1} ms (runs: {:?}); idle RSS: median {:.1} MiB (runs: {:?})",
            median(ready.clone()),
            ready
                .iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>(),
            median(rss.clone()),
            rss.iter()
                .map(|v| (v * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        ));
    }

    lines.push(String::new());
    lines.push("| phase | ops/s | p50 ms | p99 ms | server CPU µs/op | errors |".into());
    lines.push("|---|---|---|---|---|---|".into());
    let mut results: Vec<Phase> = Vec::new();
    let mut ratios: Vec<String> = Vec::new();
    let addr = running.addr;

    if phases.contains(&"cc") {
        let mut conns = Vec::new();
        for _ in 0..args.connections {
            conns.push(Conn::connect(addr).await?);
        }
        let auth = konto.basic_auth();
        let phase = drive(
            "client_credentials",
            &running,
            args.seconds,
            conns.into_iter().map(|c| (c, auth.clone())).collect(),
            |(mut c, auth)| async move {
                let ok = c
                    .token(&auth, "grant_type=client_credentials")
                    .await
                    .is_ok_and(|b| b.contains("access_token"));
                ((c, auth), ok)
            },
        )
        .await?;
        lines.push(phase.report());
        results.push(phase);
    }

    let mut plain_refresh = None;
    if phases.contains(&"refresh") {
        let phase = refresh(&konto, &running, &args, Acting::Myself).await?;
        lines.push(phase.report());
        plain_refresh = Some(phase);
    }
    if phases.contains(&"refresh_chain") {
        let phase = refresh(&konto, &running, &args, Acting::Chain).await?;
        lines.push(phase.report());
        if let Some(plain) = &plain_refresh {
            ratios.push(phase.against(plain));
        }
    }

    if phases.contains(&"mandate_check") {
        let mut states = Vec::new();
        let form = format!("mandate={}", konto.chain.mandate);
        for _ in 0..args.connections {
            states.push((Conn::connect(addr).await?, konto.basic_auth(), form.clone()));
        }
        let phase = drive(
            "mandate check",
            &running,
            args.seconds,
            states,
            |(mut c, auth, form)| async move {
                let ok = c
                    .request(
                        hyper::Method::POST,
                        "/mandates/check",
                        &[
                            ("authorization", &auth),
                            ("content-type", "application/x-www-form-urlencoded"),
                        ],
                        Some(form.clone()),
                    )
                    .await
                    .is_ok_and(|r| r.status == 200 && r.body.contains("\"active\":true"));
                ((c, auth, form), ok)
            },
        )
        .await?;
        lines.push(phase.report());
        results.push(phase);
    }

    let mut raw_argon = None;
    if phases.contains(&"argon2") {
        let rate = tokio::task::spawn_blocking(move || argon2_rate(5)).await?;
        raw_argon = Some(rate);
        lines.push(format!(
            "| raw Argon2id hashes (all cores, no server work) | {rate:.1} | | | | |"
        ));
    }

    let mut plain_flow = None;
    if phases.contains(&"flow") {
        let phase = flows(&konto, &running, &args, Acting::Myself).await?;
        lines.push(phase.report());
        if let Some(raw) = raw_argon {
            ratios.push(format!(
                "code flows / raw Argon2id rate = {:.0} %",
                phase.rate() / raw * 100.0
            ));
        }
        plain_flow = Some(phase);
    }
    if phases.contains(&"flow_chain") {
        let phase = flows(&konto, &running, &args, Acting::Chain).await?;
        lines.push(phase.report());
        if let Some(plain) = &plain_flow {
            ratios.push(phase.against(plain));
        }
    }
    if phases.contains(&"saml_flow") {
        let phase = saml_flows(&konto, &running, &args).await?;
        lines.push(phase.report());
        if let Some(plain) = &plain_flow {
            ratios.push(phase.against(plain));
        }
    }
    if phases.iter().any(|p| p.starts_with("postbox")) {
        let pb = Arc::new(postbox::Postbox::prepare(&konto, &running).await?);
        if phases.contains(&"postbox_send") {
            let phase = postbox::sends(
                &pb,
                &running,
                &args,
                100 * 1024,
                "postbox send with a 100 KB attachment",
                args.connections,
            )
            .await?;
            lines.push(phase.report());
        }
        if phases.contains(&"postbox_inbox") {
            postbox::fill(&pb, &running, 10_000).await?;
            let phase = postbox::inbox(&pb, &running, &args).await?;
            lines.push(phase.report());
            ratios.push(format!(
                "postbox inbox at {} messages: p99 {:.2} ms (goal: at most 10 ms)",
                pb.messages.load(Ordering::Relaxed),
                phase.latency.value_at_quantile(0.99) as f64 / 1000.0
            ));
        }
        if phases.contains(&"postbox_memory") {
            // what a 2 MiB attachment costs while it is received: the peak over the idle size
            tokio::time::sleep(Duration::from_millis(500)).await;
            let idle = running.rss_kib()?;
            let concurrent = 4;
            let (phase, peak) = postbox::peak_rss(
                &running,
                postbox::sends(
                    &pb,
                    &running,
                    &args,
                    2 * 1024 * 1024,
                    "postbox send with a 2 MiB attachment",
                    concurrent,
                ),
            )
            .await?;
            lines.push(phase.report());
            let per_send = (peak.saturating_sub(idle)) as f64 / 1024.0 / concurrent as f64;
            ratios.push(format!(
                "memory while receiving 2 MiB attachments, {concurrent} at a time: RSS {:.1} MiB \
                 before, peak {:.1} MiB; {per_send:.1} MiB above it per send in flight = {:.1} × \
                 the attachment",
                idle as f64 / 1024.0,
                peak as f64 / 1024.0,
                per_send / 2.0
            ));
        }
    }
    running.stop().await;
    if !ratios.is_empty() {
        lines.push(String::new());
        lines.append(&mut ratios);
    }
    println!("{}", lines.join("\n"));
    Ok(())
}

/// Refresh-token rotations on `args.connections` connections, each with the refresh token of
/// its own code flow acting as `acting`.
async fn refresh(
    konto: &Konto,
    running: &server::Running,
    args: &Args,
    acting: Acting,
) -> Result<Phase> {
    let mut states = Vec::new();
    for _ in 0..args.connections {
        let mut c = Conn::connect(running.addr).await?;
        let (at, rt) = client::code_flow_as(&mut c, konto, acting)
            .await
            .context("a code flow for a refresh token")?;
        if acting == Acting::Chain {
            acts_under_chain(&at)?;
        }
        states.push((c, konto.basic_auth(), rt));
    }
    let name = match acting {
        Acting::Myself | Acting::Reader => "refresh_token",
        Acting::Chain => "refresh_token acting under the chain",
    };
    drive(
        name,
        running,
        args.seconds,
        states,
        |(mut c, auth, rt)| async move {
            match c
                .token(
                    &auth,
                    &format!("grant_type=refresh_token&refresh_token={rt}"),
                )
                .await
            {
                Ok(body) => match client::json_field(&body, "refresh_token") {
                    Some(next) => ((c, auth, next), true),
                    None => ((c, auth, rt), false),
                },
                Err(_) => ((c, auth, rt), false),
            }
        },
    )
    .await
}

/// Complete code flows with password login by `args.browsers` browsers, acting as `acting`.
async fn flows(
    konto: &Konto,
    running: &server::Running,
    args: &Args,
    acting: Acting,
) -> Result<Phase> {
    let konto = Arc::new(konto.clone());
    if acting == Acting::Chain {
        // once, outside the measurement: the flow really ends in a token acting for A
        let mut c = Conn::connect(running.addr).await?;
        let (at, _) = client::code_flow_as(&mut c, &konto, acting).await?;
        acts_under_chain(&at)?;
    }
    let mut states = Vec::new();
    for _ in 0..args.browsers {
        states.push((Conn::connect(running.addr).await?, Arc::clone(&konto)));
    }
    let name = match acting {
        Acting::Myself | Acting::Reader => "code flow with password login",
        Acting::Chain => "code flow with password login, acting under the chain",
    };
    drive(
        name,
        running,
        args.seconds,
        states,
        move |(mut c, k)| async move {
            let ok = client::code_flow_as(&mut c, &k, acting).await.is_ok();
            ((c, k), ok)
        },
    )
    .await
}

/// Complete SAML logins with password by `args.browsers` browsers.
async fn saml_flows(konto: &Konto, running: &server::Running, args: &Args) -> Result<Phase> {
    let konto = Arc::new(konto.clone());
    let mut states = Vec::new();
    for _ in 0..args.browsers {
        states.push((Conn::connect(running.addr).await?, Arc::clone(&konto)));
    }
    drive(
        "SAML login with password (signed request, signed + encrypted assertion)",
        running,
        args.seconds,
        states,
        move |(mut c, k)| async move {
            let ok = saml::login(&mut c, &k.sp, &k.user, &k.password_form())
                .await
                .is_ok();
            ((c, k), ok)
        },
    )
    .await
}

/// Checks that an access token acts for someone (RFC 8693 `act`) through the bench's mandate.
fn acts_under_chain(access_token: &str) -> Result<()> {
    let claims = client::jwt_claims(access_token).context("the access token is no JWT")?;
    if claims.get("act").is_none() {
        anyhow::bail!("the access token acts for nobody: {claims}");
    }
    Ok(())
}
