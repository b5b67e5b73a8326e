//! SLA policies in the log: each `[[sla]]` policy is recorded as an `sla.policy` entry when it is
//! first declared and again whenever it changes, so that every published report can be
//! recomputed under the policy that was in force (`candor verify --uptime`).
//!
//! Called at start and after each reload. An unchanged policy adds nothing: the append's
//! idempotency key is derived from the SHA-256 of the entry bytes. Because a policy changed back
//! to an earlier version would hit that earlier version's key, the key also names the log index
//! of the latest other version of the policy recorded after it (found by reading the log from
//! there on); so A, then B, then A again is recorded three times, and a restart records nothing.

use candor_core::entries::{Entry, sla_policy};
use candor_core::status::StatusSettings;
use candor_store::{LogStore, StoreError};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// How many entries are read per call when looking for later versions of a policy.
const SCAN_CHUNK: u64 = 4_096;

/// Records each declared SLA policy that the log does not already hold in its current form.
/// Returns how many entries were appended.
pub async fn record_policies<S: LogStore>(
    store: &S,
    settings: &StatusSettings,
    at: OffsetDateTime,
) -> Result<usize, StoreError> {
    let mut appended = 0;
    for spec in &settings.sla {
        let entry = sla_policy(spec).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let base = policy_key(&spec.id, &entry);
        let mut key = base.clone();
        loop {
            let (index, fresh) = store.append_entry(&entry, at, Some(&key)).await?;
            if fresh {
                appended += 1;
                break;
            }
            // This version was recorded at `index`; is it still the latest of this policy?
            match later_version(store, &spec.id, index + 1).await? {
                None => break,
                Some((_, bytes)) if bytes == entry.bytes => break,
                Some((other, _)) => key = format!("{base}:after:{other}"),
            }
        }
    }
    Ok(appended)
}

/// `sla.policy:<id>:<hex SHA-256 of the entry bytes>`.
fn policy_key(id: &str, entry: &Entry) -> String {
    format!(
        "sla.policy:{id}:{}",
        hex::encode(Sha256::digest(&entry.bytes))
    )
}

/// The last `sla.policy` entry of policy `id` at or after `from` (log index, bytes), if any.
async fn later_version<S: LogStore>(
    store: &S,
    id: &str,
    from: u64,
) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let size = store.sequenced_size().await?;
    let mut last = None;
    let mut next = from;
    while next < size {
        let to = (next + SCAN_CHUNK).min(size);
        for e in store.entries(next, to).await? {
            if e.entry_type != "sla.policy" {
                continue;
            }
            let names_it = serde_json::from_slice::<serde_json::Value>(&e.entry)
                .ok()
                .is_some_and(|v| v.get("id").and_then(|i| i.as_str()) == Some(id));
            if names_it {
                last = Some((e.seq, e.entry));
            }
        }
        next = to;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candor_core::config::Database;
    use candor_core::status::{DowntimeSource, SlaPeriodKind, SlaPolicySpec};
    use candor_core::uptime_log::{PolicyOrigin, rebuild};
    use candor_store::Store;
    use time::macros::datetime;

    fn spec(id: &str, target_ppm: u32) -> SlaPolicySpec {
        SlaPolicySpec {
            id: id.into(),
            components: vec!["api".into()],
            policy: candor_core::sla::Policy {
                target_ppm,
                ..candor_core::sla::Policy::default()
            },
            source: DowntimeSource::Probes,
            period: SlaPeriodKind::Month,
            time_zone: None,
            user_counts: Vec::new(),
        }
    }

    fn settings(policies: Vec<SlaPolicySpec>) -> StatusSettings {
        StatusSettings {
            sla: policies,
            ..StatusSettings::default()
        }
    }

    async fn logged(store: &Store) -> Vec<(u64, Vec<u8>)> {
        let size = store.sequenced_size().await.unwrap();
        store
            .entries(0, size)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.entry))
            .collect()
    }

    #[tokio::test]
    async fn a_policy_is_recorded_once_and_again_on_each_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
            .await
            .unwrap();
        let at = datetime!(2026-11-01 00:00 UTC);
        let a = settings(vec![spec("standard", 999_000), spec("gold", 999_900)]);
        assert_eq!(record_policies(&store, &a, at).await.unwrap(), 2);
        // A restart or a reload with nothing changed records nothing.
        assert_eq!(record_policies(&store, &a, at).await.unwrap(), 0);
        assert_eq!(logged(&store).await.len(), 2);

        // Changing one policy records that one only.
        let b = settings(vec![spec("standard", 995_000), spec("gold", 999_900)]);
        assert_eq!(record_policies(&store, &b, at).await.unwrap(), 1);
        assert_eq!(record_policies(&store, &b, at).await.unwrap(), 0);
        let r = rebuild(&logged(&store).await).unwrap();
        let (latest, _) = r.policy_for("api");
        assert_eq!(r.policies.len(), 3);
        assert_eq!(
            r.policies.last().unwrap().1.policy.target_ppm,
            995_000,
            "{latest:?}"
        );

        // Changing it back is a change too (the log must end with the version in force).
        assert_eq!(record_policies(&store, &a, at).await.unwrap(), 1);
        assert_eq!(record_policies(&store, &a, at).await.unwrap(), 0);
        let r = rebuild(&logged(&store).await).unwrap();
        assert_eq!(r.policies.len(), 4);
        let standard: Vec<u32> = r
            .policies
            .iter()
            .filter(|(_, p)| p.id == "standard")
            .map(|(_, p)| p.policy.target_ppm)
            .collect();
        assert_eq!(standard, vec![999_000, 995_000, 999_000]);
        // And back again, once more.
        assert_eq!(record_policies(&store, &b, at).await.unwrap(), 1);
        assert_eq!(record_policies(&store, &b, at).await.unwrap(), 0);
        assert_eq!(record_policies(&store, &b, at).await.unwrap(), 0);
        let r = rebuild(&logged(&store).await).unwrap();
        let last_standard = r
            .policies
            .iter()
            .rev()
            .find(|(_, p)| p.id == "standard")
            .unwrap();
        assert_eq!(last_standard.1.policy.target_ppm, 995_000);
        assert!(matches!(r.policy_for("api").1, PolicyOrigin::Logged(_)));

        // No policies declared: nothing recorded.
        assert_eq!(
            record_policies(&store, &StatusSettings::default(), at)
                .await
                .unwrap(),
            0
        );
        store.close().await;
    }
}
