//! Group commit for SQLite: every acknowledged write is on disk, at the cost of one `fsync` per
//! batch of concurrent writes instead of one per write.
//!
//! SQLite's own `synchronous=FULL` syncs the WAL inside each commit, while the single writer
//! holds the write lock, so writes queue behind each other's `fsync` (about 2,400 refresh grants
//! per second on the reference machine). Here commits run with `synchronous=NORMAL` — appended
//! to the WAL in the page cache — and a write is acknowledged only after an `fsync` of the WAL
//! file that started after its commit. One syncer thread does the `fsync`s; before each it lets
//! commits gather while they keep coming (each within [`QUIET`] of the last, at most the
//! configured window, 2 ms by default), so under load one `fsync` covers a dozen or more writes
//! (like PostgreSQL's `commit_delay`), while a lone write at low load is synced at once.
//! Measured: 2,400 → about 7,500 durable refresh grants per second (BENCHMARKS.md).
//!
//! Why this is as durable as `synchronous=FULL` for what callers were told: the WAL is one file
//! appended in commit order, and SQLite's recovery replays every complete, checksummed
//! transaction in it. An `fsync` of the file makes every frame written before it durable, so a
//! write whose `fsync` completed survives power loss. A write whose `fsync` did not complete may
//! be lost — as under `FULL` when the power fails before the answer is sent. The difference:
//! another request may *read* such a write (it is committed) a moment before it is durable.
//! SQLite checkpoints (WAL → database file) sync both files themselves in this mode.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use konto_store::StoreError;
use tokio::sync::watch;

/// The WAL of one SQLite database and how far it is known to be on disk.
#[derive(Debug)]
pub(crate) struct WalSync {
    shared: Arc<Shared>,
    /// Every commit up to this count is on disk; the syncer thread publishes it.
    synced: watch::Receiver<Result<u64, String>>,
}

#[derive(Debug)]
struct Shared {
    wal: PathBuf,
    /// Commits counted so far; a commit is counted after it completed.
    committed: AtomicU64,
    /// Writes started but not yet committed (or failed): worth waiting for.
    in_flight: AtomicU64,
    /// Wakes the syncer; `true` once the store is dropped.
    wake: Mutex<bool>,
    bell: Condvar,
    /// How long the syncer lets further commits gather before an `fsync`, at most.
    window: Duration,
}

/// A write in flight; see [`WalSync::enter`].
pub(crate) struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.ring();
        }
    }
}

/// How long the syncer waits for another commit before it syncs what it has.
const QUIET: Duration = Duration::from_micros(300);

/// The WAL could not be synced: the write is committed but not known to be durable.
#[derive(Debug)]
pub(crate) struct SyncFailed(std::io::Error);

impl From<SyncFailed> for StoreError {
    fn from(e: SyncFailed) -> StoreError {
        tracing::error!(error = %e.0, "the SQLite WAL could not be synced to disk");
        StoreError::Unavailable("the database could not make a write durable".into())
    }
}

impl From<SyncFailed> for sqlx::Error {
    fn from(e: SyncFailed) -> sqlx::Error {
        sqlx::Error::Io(e.0)
    }
}

impl WalSync {
    /// For the database file `db` (its WAL is `db-wal`, SQLite's naming); starts the syncer thread.
    pub(crate) fn new(db: PathBuf, window: Duration) -> Result<WalSync, SyncFailed> {
        let mut wal = db.into_os_string();
        wal.push("-wal");
        let shared = Arc::new(Shared {
            wal: PathBuf::from(wal),
            committed: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            wake: Mutex::new(false),
            bell: Condvar::new(),
            window,
        });
        let (tx, rx) = watch::channel(Ok(0));
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("konto-wal-sync".into())
            .spawn(move || worker.run(&tx))
            .map_err(SyncFailed)?;
        Ok(WalSync { shared, synced: rx })
    }

    /// Marks a write as started, so a sync about to begin waits a moment for its commit.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(&self.shared)
    }

    /// Returns once everything committed before this call is on disk.
    pub(crate) async fn commit_durably(&self) -> Result<(), SyncFailed> {
        let ticket = self.shared.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.clone();
        if matches!(*synced.borrow(), Ok(n) if n >= ticket) {
            return Ok(());
        }
        self.shared.ring();
        let done = synced
            .wait_for(|s| !matches!(s, Ok(n) if *n < ticket))
            .await
            .map_err(|_| SyncFailed(std::io::Error::other("the WAL syncer stopped")))?;
        match &*done {
            Ok(_) => Ok(()),
            Err(e) => Err(SyncFailed(std::io::Error::other(e.clone()))),
        }
    }

    /// Makes the directory entries of the database and its WAL durable (once, at start).
    pub(crate) fn sync_directory(&self) -> Result<(), SyncFailed> {
        match self.shared.wal.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => sync_file(dir),
            _ => sync_file(std::path::Path::new(".")),
        }
    }

    #[cfg(test)]
    fn synced(&self) -> u64 {
        self.synced.borrow().as_ref().map_or(0, |n| *n)
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        if let Ok(mut stop) = self.shared.wake.lock() {
            *stop = true;
        }
        self.shared.bell.notify_one();
    }
}

impl Shared {
    fn ring(&self) {
        // taking the lock orders this with the syncer's check, so no wake-up is lost
        drop(self.wake.lock());
        self.bell.notify_one();
    }

    /// The syncer: whenever commits are not yet covered, wait (up to the window) while other
    /// writes are still running, then one `fsync` for every commit so far. Under load one
    /// `fsync` covers many writes; a lone write is synced at once. After a failed `fsync`
    /// nothing is reported durable again: the kernel may have dropped the failed pages
    /// ("fsyncgate"), so writes are refused until konto restarts and SQLite recovers the WAL.
    fn run(&self, synced: &watch::Sender<Result<u64, String>>) {
        let mut covered_so_far = 0;
        let mut last_batch = 0;
        loop {
            {
                let Ok(mut stop) = self.wake.lock() else {
                    return;
                };
                while !*stop && self.committed.load(Ordering::SeqCst) <= covered_so_far {
                    stop = match self.bell.wait(stop) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                }
                // Gather while writes keep coming: until nothing new committed and nothing ran
                // for QUIET, at most for the window. A lone write at low load (the last sync
                // covered one write, none is running) is synced at once.
                let alone = last_batch <= 1 && self.in_flight.load(Ordering::SeqCst) == 0;
                let deadline = Instant::now() + self.window;
                let mut seen = self.committed.load(Ordering::SeqCst);
                while !*stop && !alone {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    let (s, waited) = match self.bell.wait_timeout(stop, left.min(QUIET)) {
                        Ok(r) => r,
                        Err(_) => return,
                    };
                    stop = s;
                    let now = self.committed.load(Ordering::SeqCst);
                    if waited.timed_out()
                        && now == seen
                        && self.in_flight.load(Ordering::SeqCst) == 0
                    {
                        break;
                    }
                    seen = now;
                }
                if *stop {
                    return;
                }
            }
            // every commit counted so far completed before this fsync starts
            let covered = self.committed.load(Ordering::SeqCst);
            match sync_file(&self.wal) {
                Ok(()) => {
                    last_batch = covered - covered_so_far;
                    covered_so_far = covered;
                    let _previous = synced.send_replace(Ok(covered));
                }
                Err(SyncFailed(e)) => {
                    tracing::error!(error = %e, "fsync of the SQLite WAL failed; writes are refused until restart");
                    let _previous = synced.send_replace(Err(e.to_string()));
                    return;
                }
            }
        }
    }
}

/// Opened anew each time: SQLite may delete and recreate the WAL (when the last connection
/// closes), and an old descriptor would sync a file nobody reads.
fn sync_file(path: &std::path::Path) -> Result<(), SyncFailed> {
    match std::fs::File::open(path) {
        Ok(f) => f.sync_data().map_err(SyncFailed),
        // no WAL: SQLite checkpointed it into the database file (synced) and removed it
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SyncFailed(e)),
    }
}

/// After a write: with group commit, wait until it is durable; a failed write needs no sync.
pub(crate) async fn settle<T, E: From<SyncFailed>>(
    wal: Option<&WalSync>,
    result: Result<T, E>,
) -> Result<T, E> {
    match (wal, result) {
        (Some(wal), Ok(v)) => {
            wal.commit_durably().await?;
            Ok(v)
        }
        (_, r) => r,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_fsyncs_and_all_end_synced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("konto.db");
        std::fs::write(format!("{}-wal", db.display()), b"frames").unwrap();
        let wal = Arc::new(WalSync::new(db, Duration::ZERO).unwrap());
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let wal = Arc::clone(&wal);
                tokio::spawn(async move { wal.commit_durably().await.is_ok() })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(
            wal.synced(),
            64,
            "every ticket is covered by a completed fsync"
        );
        wal.sync_directory().unwrap();
    }

    #[tokio::test]
    async fn a_missing_wal_is_nothing_to_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = WalSync::new(dir.path().join("gone.db"), Duration::ZERO).unwrap();
        assert!(wal.commit_durably().await.is_ok());
    }

    #[tokio::test]
    async fn an_unreadable_wal_is_an_error_not_a_silent_ack() {
        let dir = tempfile::tempdir().unwrap();
        // a WAL path whose parent is a file: open fails with something other than NotFound
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let wal = WalSync::new(file.join("konto.db"), Duration::ZERO).unwrap();
        let r: Result<(), StoreError> = settle(Some(&wal), Ok(())).await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
        let failed: Result<(), StoreError> = settle(Some(&wal), Err(StoreError::NotFound)).await;
        assert!(
            matches!(failed, Err(StoreError::NotFound)),
            "failed writes are not synced"
        );
    }
}
