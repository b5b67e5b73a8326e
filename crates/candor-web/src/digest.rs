//! Flood facts (failed sign-ins, probe samples) are committed as periodic digests: items are
//! collected in memory and, every interval, one `digest.batch` entry commits to all of them
//! through the RFC 6962 root of their bytes. The items themselves live in their own tables (kept
//! by the capability that produces them); the log holds one leaf per interval, not one per item.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_core::Clock;
use candor_store::{LogStore, Store, StoreError};
use candor_tlog::merkle::root_from_leaf_hashes;
use candor_tlog::{Hash, leaf_hash};
use time::OffsetDateTime;

use crate::log::LogService;

#[derive(Default)]
struct Pending {
    from: Option<OffsetDateTime>,
    leaves: Vec<Hash>,
}

/// Collects one stream's items and appends a digest entry per interval.
pub struct DigestBatcher {
    stream: String,
    store: Store,
    clock: Arc<dyn Clock>,
    log: Arc<LogService>,
    pending: Mutex<Pending>,
}

impl DigestBatcher {
    /// A batcher for `stream` (e.g. `probe.samples`).
    pub fn new(
        stream: impl Into<String>,
        store: Store,
        clock: Arc<dyn Clock>,
        log: Arc<LogService>,
    ) -> Arc<DigestBatcher> {
        Arc::new(DigestBatcher {
            stream: stream.into(),
            store,
            clock,
            log,
            pending: Mutex::new(Pending::default()),
        })
    }

    /// Adds one item (its canonical bytes).
    pub fn add(&self, item: &[u8]) {
        let now = self.clock.now();
        if let Ok(mut p) = self.pending.lock() {
            p.from.get_or_insert(now);
            p.leaves.push(leaf_hash(item));
        }
    }

    /// Appends the digest of everything added since the last flush; returns its log index, or
    /// None when nothing was added. On failure the items stay pending for the next flush.
    pub async fn flush(&self) -> Result<Option<u64>, StoreError> {
        let taken = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(None),
        };
        let Some(from) = taken.from else {
            return Ok(None);
        };
        let to = self.clock.now();
        let count = taken.leaves.len() as u64;
        let root = root_from_leaf_hashes(&taken.leaves);
        let entry =
            candor_core::entries::digest_batch(&self.stream, from, to, count, &root.to_hex())
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
        // The key makes a retried flush of the same batch a no-op instead of a second leaf.
        let key = format!(
            "digest:{}:{}:{count}:{}",
            self.stream,
            candor_core::entries::timestamp(from),
            root.to_hex()
        );
        match self.store.append_entry(&entry, to, Some(&key)).await {
            Ok((seq, _)) => {
                self.log.wake();
                Ok(Some(seq))
            }
            Err(err) => {
                if let Ok(mut p) = self.pending.lock() {
                    let mut leaves = taken.leaves;
                    leaves.append(&mut p.leaves);
                    p.leaves = leaves;
                    p.from = Some(from);
                }
                Err(err)
            }
        }
    }

    /// Flushes every `interval` until the process ends.
    pub fn spawn(self: &Arc<Self>, interval: Duration) {
        let batcher = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                if let Err(err) = batcher.flush().await {
                    tracing::error!(stream = %batcher.stream, error = %err, "appending a digest failed; will retry");
                }
            }
        });
    }
}
