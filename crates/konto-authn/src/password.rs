//! Password hashing with Argon2id.
//!
//! OWASP's parameters (19 MiB, t=2, p=1) by default. A hash costs about 11 ms of one core, so
//! hashing runs on dedicated threads, one per core: a burst of logins queues instead of starving
//! the async threads or exhausting memory. An unknown account is
//! verified against a dummy hash with the same parameters, so it costs the same work and gives the
//! same answer as a wrong password. Stored hashes carry their parameters (PHC string format), so
//! raising the cost later re-hashes on the next successful login.

use std::sync::Arc;

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed")]
    Hashing,
    #[error("the stored password hash is malformed")]
    MalformedHash,
    #[error("no randomness available")]
    Random,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for PasswordParams {
    /// OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        PasswordParams {
            m_cost: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

/// One hash to compute on a hashing thread.
struct Job {
    params: Params,
    password: Vec<u8>,
    salt: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<u8>, PasswordError>>,
}

/// Hashes and verifies passwords off the async threads, at most `concurrency` at a time.
///
/// `concurrency` long-lived threads compute Argon2id, each keeping its 19 MiB working memory
/// between hashes (allocating and faulting it in for every login costs more than a millisecond)
/// and staying on its core instead of sharing the async runtime's threads. Logins beyond that
/// wait in a bounded queue.
#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordParams,
    argon_params: Params,
    jobs: flume::Sender<Job>,
    dummy: Arc<str>,
}

/// Queued hashes beyond the running ones; more wait for a place in the queue.
const QUEUE: usize = 256;

fn hashing_thread(jobs: flume::Receiver<Job>) {
    let mut memory: Vec<Block> = Vec::new();
    while let Ok(job) = jobs.recv() {
        let blocks = job.params.block_count();
        if memory.len() != blocks {
            memory = vec![Block::default(); blocks];
        }
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, job.params.clone());
        let mut out = vec![0u8; job.params.output_len().unwrap_or(32)];
        let result = argon
            .hash_password_into_with_memory(&job.password, &job.salt, &mut out, &mut memory)
            .map(|()| out)
            .map_err(|_| PasswordError::Hashing);
        // the caller may have gone away (a dropped request); nothing to do then
        let _ = job.reply.send(result);
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    pub fn new(
        params: PasswordParams,
        concurrency: usize,
    ) -> Result<PasswordHasher, PasswordError> {
        let argon_params = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        // A hash that no password matches, with the same parameters: verifying against it costs
        // exactly what verifying a real hash costs. Built without hashing, so start-up stays fast.
        let mut random = [0u8; 48];
        getrandom::fill(&mut random).map_err(|_| PasswordError::Random)?;
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost,
            params.t_cost,
            params.p_cost,
            STANDARD_NO_PAD.encode(&random[..16]),
            STANDARD_NO_PAD.encode(&random[16..]),
        );
        PasswordHash::new(&dummy).map_err(|_| PasswordError::MalformedHash)?;
        let (jobs, queue) = flume::bounded::<Job>(QUEUE);
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        for i in 0..concurrency.max(1) {
            let queue = queue.clone();
            let core = cores.get(i % cores.len().max(1)).copied();
            std::thread::Builder::new()
                .name(format!("konto-hash-{i}"))
                .spawn(move || {
                    // one hashing thread per core, staying there: its working memory stays warm
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    hashing_thread(queue)
                })
                .map_err(|e| {
                    PasswordError::Params(format!("cannot start a hashing thread: {e}"))
                })?;
        }
        Ok(PasswordHasher {
            argon_params,
            params,
            jobs,
            dummy: Arc::from(dummy),
        })
    }

    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// Runs one Argon2id computation on a hashing thread.
    async fn compute(
        &self,
        params: Params,
        password: &str,
        salt: &[u8],
    ) -> Result<Vec<u8>, PasswordError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            params,
            password: password.as_bytes().to_vec(),
            salt: salt.to_vec(),
            reply,
        };
        self.jobs
            .send_async(job)
            .await
            .map_err(|_| PasswordError::Hashing)?;
        answer.await.map_err(|_| PasswordError::Hashing)?
    }

    /// A new PHC string for `password`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| PasswordError::Random)?;
        let output = self
            .compute(self.argon_params.clone(), password, &salt)
            .await?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost,
            self.params.t_cost,
            self.params.p_cost,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(output),
        ))
    }

    /// Whether `password` matches `stored`; with `None` (no such account) the same work is done
    /// against a dummy hash and the answer is `false`.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(&self.dummy);
        let hash = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
        if hash.algorithm.as_str() != "argon2id" {
            return Err(PasswordError::MalformedHash);
        }
        let params = Params::try_from(&hash).map_err(|_| PasswordError::MalformedHash)?;
        let salt = hash.salt.ok_or(PasswordError::MalformedHash)?;
        let expected = hash.hash.ok_or(PasswordError::MalformedHash)?;
        let params = Params::new(
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            Some(expected.len()),
        )
        .map_err(|_| PasswordError::MalformedHash)?;
        let computed = self.compute(params, password, salt.as_ref()).await?;
        let computed = Output::new(&computed).map_err(|_| PasswordError::Hashing)?;
        // Output's equality is constant-time
        Ok(known && computed == expected)
    }

    /// Whether a stored hash was made with other parameters than today's.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let expected = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            self.params.m_cost, self.params.t_cost, self.params.p_cost
        );
        !stored.starts_with(&expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            PasswordParams {
                m_cost: 64,
                t_cost: 1,
                p_cost: 1,
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = cheap();
        let stored = h.hash("korrekt pferd batterie").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            h.verify("korrekt pferd batterie", Some(&stored))
                .await
                .unwrap()
        );
        assert!(!h.verify("falsch", Some(&stored)).await.unwrap());
        assert!(!h.needs_rehash(&stored));
    }

    /// Hashes made by the argon2 crate's own PHC API verify here, and the other way round.
    #[tokio::test]
    async fn phc_strings_interoperate() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = cheap();
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"zwei Kaffee bitte")
        .unwrap()
        .to_string();
        assert!(h.verify("zwei Kaffee bitte", Some(&theirs)).await.unwrap());
        assert!(!h.verify("drei Kaffee bitte", Some(&theirs)).await.unwrap());
        let ours = h.hash("zwei Kaffee bitte").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"zwei Kaffee bitte", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn unknown_accounts_do_the_same_work_and_fail() {
        let h = cheap();
        assert!(!h.verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn owasp_defaults() {
        let p = PasswordParams::default();
        assert_eq!((p.m_cost, p.t_cost, p.p_cost), (19 * 1024, 2, 1));
        let h = PasswordHasher::new(p, 1).unwrap();
        assert!(h.needs_rehash("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_errors_not_panics() {
        let h = cheap();
        assert!(h.verify("x", Some("not a hash")).await.is_err());
    }
}
