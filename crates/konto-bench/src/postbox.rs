//! The postbox phases: sends with a 100 KB attachment, the inbox at 10,000 messages, and the
//! memory a 2 MB attachment takes while it is received.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper::Method;

use crate::client::{self, Acting, Conn};
use crate::server::{Konto, Running};
use crate::{Args, Phase, drive};

const BOUNDARY: &str = "konto-bench-boundary";

/// What the postbox phases share: the bench user's handle (released to the bench client), a
/// token to send with, and one to read the inbox with.
pub(crate) struct Postbox {
    handle: String,
    send_token: String,
    read_token: String,
    /// Messages in the postbox so far.
    pub(crate) messages: Arc<AtomicU64>,
}

impl Postbox {
    /// Signs the bench user in with the `postbox` scope (which gives the bench client their
    /// handle) and takes a `postbox:send` token.
    pub(crate) async fn prepare(konto: &Konto, running: &Running) -> Result<Postbox> {
        let mut c = Conn::connect(running.addr).await?;
        let (read_token, _) = client::code_flow_as(&mut c, konto, Acting::Reader)
            .await
            .context("a code flow with the postbox scope")?;
        let auth = format!("Bearer {read_token}");
        let info = c
            .request(Method::GET, "/userinfo", &[("authorization", &auth)], None)
            .await?;
        let handle = client::json_field(&info.body, "postbox_handle")
            .with_context(|| format!("no postbox_handle in userinfo: {}", info.body))?;
        let body = c
            .token(
                &konto.basic_auth(),
                "grant_type=client_credentials&scope=postbox%3Asend",
            )
            .await?;
        let send_token = client::json_field(&body, "access_token").context("a send token")?;
        Ok(Postbox {
            handle,
            send_token,
            read_token,
            messages: Arc::new(AtomicU64::new(0)),
        })
    }

    fn message(&self, n: u64) -> String {
        format!(
            "{{\"recipient\":\"{}\",\"kind\":\"decision\",\"sender\":\"Finanzamt Bench\",\
             \"service\":\"Grundsteuer\",\"title\":\"Bescheid {n}\",\"body\":\"Sehr geehrte \
             Damen und Herren,\\nanbei Ihr Bescheid.\",\"min_level\":\"basic\"}}",
            self.handle
        )
    }

    /// A multipart send: the message and one text attachment of `size` bytes.
    fn multipart(&self, n: u64, attachment: &str) -> String {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"message\"\r\n\
             Content-Type: application/json\r\n\r\n{}\r\n--{BOUNDARY}\r\n\
             Content-Disposition: form-data; name=\"attachment\"; filename=\"anlage.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n{attachment}\r\n--{BOUNDARY}--\r\n",
            self.message(n)
        )
    }
}

/// A text of `size` bytes: lines of the alphabet.
fn text(size: usize) -> String {
    let line = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n";
    line.repeat(size / line.len() + 1)[..size].to_owned()
}

/// One send; whether it was provided (201).
async fn send(c: &mut Conn, token: &str, key: &str, body: String, multipart: bool) -> bool {
    let auth = format!("Bearer {token}");
    let content_type = if multipart {
        format!("multipart/form-data; boundary={BOUNDARY}")
    } else {
        "application/json".to_owned()
    };
    c.request(
        Method::POST,
        "/postbox/v1/messages",
        &[
            ("authorization", &auth),
            ("idempotency-key", key),
            ("content-type", &content_type),
        ],
        Some(body),
    )
    .await
    .is_ok_and(|r| r.status == 201)
}

/// Sends, each with a 100 KB text attachment, on `args.connections` connections.
pub(crate) async fn sends(
    pb: &Arc<Postbox>,
    running: &Running,
    args: &Args,
    size: usize,
    name: &'static str,
    connections: usize,
) -> Result<Phase> {
    let attachment = Arc::new(text(size));
    let mut states = Vec::new();
    for w in 0..connections {
        states.push((
            Conn::connect(running.addr).await?,
            Arc::clone(pb),
            Arc::clone(&attachment),
            w,
            0u64,
        ));
    }
    let phase = drive(
        name,
        running,
        args.seconds,
        states,
        move |(mut c, pb, attachment, w, n)| async move {
            let key = format!("{}-{w}-{n}", name.replace(' ', "_"));
            let body = pb.multipart(n, &attachment);
            let ok = send(&mut c, &pb.send_token, &key, body, true).await;
            if ok {
                pb.messages.fetch_add(1, Ordering::Relaxed);
            }
            ((c, pb, attachment, w, n + 1), ok)
        },
    )
    .await?;
    Ok(phase)
}

/// Fills the postbox up to `target` messages with small sends (not measured).
pub(crate) async fn fill(pb: &Arc<Postbox>, running: &Running, target: u64) -> Result<()> {
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let pb = Arc::clone(pb);
        let addr = running.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await?;
            let mut n = 0u64;
            while pb.messages.load(Ordering::Relaxed) < target {
                let key = format!("fill-{w}-{n}");
                if send(&mut c, &pb.send_token, &key, pb.message(n), false).await {
                    pb.messages.fetch_add(1, Ordering::Relaxed);
                } else {
                    bail!("a filling send failed");
                }
                n += 1;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// The inbox's first page (50 messages, opened) as the person's app reads it.
pub(crate) async fn inbox(pb: &Arc<Postbox>, running: &Running, args: &Args) -> Result<Phase> {
    let mut states = Vec::new();
    for _ in 0..args.browsers {
        states.push((Conn::connect(running.addr).await?, Arc::clone(pb)));
    }
    drive(
        "postbox inbox, first page of 50",
        running,
        args.seconds,
        states,
        |(mut c, pb)| async move {
            let auth = format!("Bearer {}", pb.read_token);
            let ok = c
                .request(
                    Method::GET,
                    "/postbox/v1/inbox?limit=50",
                    &[("authorization", &auth)],
                    None,
                )
                .await
                .is_ok_and(|r| r.status == 200 && r.body.starts_with("[{"));
            ((c, pb), ok)
        },
    )
    .await
}

/// The highest resident set size seen while `phase` runs, sampled every 5 ms, in KiB.
pub(crate) async fn peak_rss<F: std::future::Future<Output = Result<Phase>>>(
    running: &Running,
    phase: F,
) -> Result<(Phase, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let pid_rss = running.rss_reader();
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(kib) = pid_rss() {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let phase = phase.await;
    stop.store(true, Ordering::Relaxed);
    sampler.await?;
    Ok((phase?, peak.load(Ordering::Relaxed)))
}
