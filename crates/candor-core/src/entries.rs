//! Log entries: every published fact, typed, versioned and canonical. Each type is registered in
//! `docs/LOG-ENTRIES.md`. Entries never contain personal data or free text in clear.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::canonical::{CanonicalError, to_canonical_json};

/// The largest entry the log accepts (tlog-tiles entry bundles use a 16-bit length).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// Why an entry cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not canonicalisable.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// Over the size limit.
    #[error("log entry of type {entry_type} is {size} bytes; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge {
        /// The entry type.
        entry_type: &'static str,
        /// Its canonical size.
        size: usize,
    },
    /// A field given as JSON text is not what the entry type needs.
    #[error("{0}")]
    Json(String),
}

/// A canonical log entry, ready to sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The registered type, e.g. `content.revision`.
    pub entry_type: &'static str,
    /// RFC 8785 bytes.
    pub bytes: Vec<u8>,
}

impl Entry {
    /// The RFC 6962 leaf hash: SHA-256(0x00 || bytes).
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&self.bytes);
        h.finalize().into()
    }
}

fn build(entry_type: &'static str, version: u32, mut fields: Value) -> Result<Entry, EntryError> {
    if let Value::Object(map) = &mut fields {
        map.insert("type".into(), Value::String(entry_type.into()));
        map.insert("v".into(), Value::from(version));
    }
    let bytes = to_canonical_json(&fields)?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge {
            entry_type,
            size: bytes.len(),
        });
    }
    Ok(Entry { entry_type, bytes })
}

/// RFC 3339 UTC with milliseconds, the one time format entries use.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let ms = at
        .replace_nanosecond(at.millisecond() as u32 * 1_000_000)
        .unwrap_or(at);
    ms.format(&Rfc3339).unwrap_or_default()
}

/// A person's keyed commitment: hex HMAC-SHA256 under the person's own key. Entries name people
/// only this way; deleting the key (crypto-shredding) makes every entry about them unlinkable.
pub fn person_commitment(person_key: &[u8; 32], person_ref: &str) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(person_key) else {
        return String::new();
    };
    mac.update(b"candor.person/v1\n");
    mac.update(person_ref.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `digest.batch` v1: facts that arrive in floods (failed sign-ins, probe samples) are not a leaf
/// each; every interval, one entry commits to all of them through the RFC 6962 root of their
/// canonical bytes.
pub fn digest_batch(
    stream: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    count: u64,
    root_hex: &str,
) -> Result<Entry, EntryError> {
    build(
        "digest.batch",
        1,
        json!({ "stream": stream, "from": timestamp(from), "to": timestamp(to), "count": count, "root": root_hex }),
    )
}

/// `content.revision` v1: a content page's bytes changed and were published.
pub fn content_revision(
    page_path: &str,
    content_sha256: &str,
    published_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "content.revision",
        1,
        json!({ "page": page_path, "content_sha256": content_sha256, "published_at": timestamp(published_at) }),
    )
}

/// One audit event as committed by an `audit.events` digest item: canonical JSON with the actor as
/// a person commitment (or `anonymous`/`system`) and the target and source address as SHA-256
/// hex, so the item bytes hold no personal data in clear.
pub fn audit_item(
    id: i64,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    target: &str,
    source_addr: &str,
) -> Result<Vec<u8>, EntryError> {
    let sha = |text: &str| hex::encode(Sha256::digest(text.as_bytes()));
    Ok(to_canonical_json(&json!({
        "id": id,
        "at": timestamp(at),
        "actor": actor,
        "action": action,
        "target_sha256": sha(target),
        "source_sha256": sha(source_addr),
    }))?)
}

/// The RFC 6962 Merkle tree hash over items (leaf hash = SHA-256(0x00 || item)): the `root` of a
/// `digest.batch` entry. SHA-256 of nothing for no items.
pub fn items_root(items: &[Vec<u8>]) -> [u8; 32] {
    fn leaf(item: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(item);
        h.finalize().into()
    }
    fn node(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
    fn root(items: &[Vec<u8>]) -> [u8; 32] {
        match items {
            [] => Sha256::digest([]).into(),
            [one] => leaf(one),
            _ => {
                // Split at the largest power of two smaller than the count (RFC 6962 §2.1).
                let k = 1usize << (usize::BITS - 1 - (items.len() - 1).leading_zeros());
                let (l, r) = items.split_at(k);
                node(root(l), root(r))
            }
        }
    }
    root(items)
}

/// `log.rotation` v1: entry 0 of a log that replaced another after a key rotation. It names the
/// retired log and its final tree, so that the chain of logs can be followed and checked.
pub fn log_rotation(
    previous_origin: &str,
    previous_vkey: &str,
    previous_size: u64,
    previous_root_base64: &str,
    rotated_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "log.rotation",
        1,
        json!({
            "previous_origin": previous_origin,
            "previous_vkey": previous_vkey,
            "previous_size": previous_size,
            "previous_root": previous_root_base64,
            "rotated_at": timestamp(rotated_at),
        }),
    )
}

// ---- transparent operations (docs/LOG-ENTRIES.md, "Status") ----

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `{"id","status"}` per component, plus `users_affected` only when declared, so entries
/// written before the user-minute formula (and those without a count) keep their bytes.
fn components_json(components: &[crate::status::AffectedComponent]) -> Value {
    Value::Array(
        components
            .iter()
            .map(|c| {
                let mut item = json!({ "id": c.component_id, "status": c.status.as_str() });
                if let (Some(n), Value::Object(map)) = (c.users_affected, &mut item) {
                    map.insert("users_affected".into(), json!(n));
                }
                item
            })
            .collect(),
    )
}

/// `status.interval` v1: a monitor or component had one status over `[start, end)` (written
/// when the interval closes).
pub fn status_interval(
    subject: &crate::status::Subject,
    status: crate::status::ComponentStatus,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "status.interval",
        1,
        json!({
            "subject": subject.to_string(),
            "status": status.as_str(),
            "start": timestamp(start),
            "end": timestamp(end),
        }),
    )
}

/// `incident.record` v1: an incident was opened (or back-filled), with its first update's text
/// `body`. Name and body enter as SHA-256 hex only.
pub fn incident_record(
    incident: &crate::status::Incident,
    body: &str,
) -> Result<Entry, EntryError> {
    build(
        "incident.record",
        1,
        json!({
            "id": incident.id,
            "impact": incident.impact.as_str(),
            "status": incident.status.as_str(),
            "origin": incident.origin.as_str(),
            "draft": incident.draft,
            "started_at": timestamp(incident.started_at),
            "resolved_at": incident.resolved_at.map(timestamp),
            "components": components_json(&incident.components),
            "name_sha256": sha256_hex(&incident.name),
            "body_sha256": sha256_hex(body),
        }),
    )
}

/// `incident.update` v1: an update was added to an incident's timeline.
pub fn incident_update(
    incident_id: &str,
    update: &crate::status::IncidentUpdate,
) -> Result<Entry, EntryError> {
    build(
        "incident.update",
        1,
        json!({
            "incident": incident_id,
            "update_id": update.id,
            "status": update.status.as_str(),
            "display_at": timestamp(update.display_at),
            "components": components_json(&update.affected),
            "body_sha256": sha256_hex(&update.body),
        }),
    )
}

/// `incident.publish` v1: a draft incident was made public.
pub fn incident_publish(
    incident_id: &str,
    published_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "incident.publish",
        1,
        json!({ "id": incident_id, "published_at": timestamp(published_at) }),
    )
}

/// `maintenance.record` v1: a maintenance window was announced (`announced_at` proves how far
/// in advance).
pub fn maintenance_record(maintenance: &crate::status::Maintenance) -> Result<Entry, EntryError> {
    build(
        "maintenance.record",
        1,
        json!({
            "id": maintenance.id,
            "announced_at": timestamp(maintenance.announced_at),
            "scheduled_for": timestamp(maintenance.scheduled_for),
            "scheduled_until": timestamp(maintenance.scheduled_until),
            "components": maintenance.components,
            "name_sha256": sha256_hex(&maintenance.name),
            "body_sha256": sha256_hex(&maintenance.body),
        }),
    )
}

/// `maintenance.complete` v1: an operator completed a maintenance window.
pub fn maintenance_complete(
    maintenance_id: &str,
    completed_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "maintenance.complete",
        1,
        json!({ "id": maintenance_id, "completed_at": timestamp(completed_at) }),
    )
}

/// `component.override` v1: an operator set (or with None cleared) a component's status.
pub fn component_override(
    component_id: &str,
    status: Option<crate::status::ComponentStatus>,
    at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "component.override",
        1,
        json!({
            "component": component_id,
            "status": status.map(|s| s.as_str()),
            "at": timestamp(at),
        }),
    )
}

/// The RFC 8785 form of a JSON object given as text (what an `sla.report` entry embeds).
/// Refused: text that is not a JSON object, and numbers that are not exact integers.
pub fn canonical_object(json_text: &str) -> Result<String, EntryError> {
    let value = parse_object(json_text)?;
    let bytes = to_canonical_json(&value)?;
    String::from_utf8(bytes).map_err(|e| EntryError::Json(e.to_string()))
}

fn parse_object(json_text: &str) -> Result<Value, EntryError> {
    match serde_json::from_str::<Value>(json_text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(EntryError::Json(
            "an SLA report must be a JSON object".into(),
        )),
        Err(e) => Err(EntryError::Json(format!(
            "an SLA report is not valid JSON: {e}"
        ))),
    }
}

/// `sla.report` v1: a closed period's SLA report for a component, or an amendment replacing the
/// report recorded at log index `amends`.
pub fn sla_report(
    component_id: &str,
    period: &str,
    report_json: &str,
    amends: Option<u64>,
) -> Result<Entry, EntryError> {
    build(
        "sla.report",
        1,
        json!({
            "component": component_id,
            "period": period,
            "report": parse_object(report_json)?,
            "amends": amends,
        }),
    )
}

/// One probe sample as committed by a `probe.samples` digest item (not an entry of its own):
/// canonical JSON with the error text as SHA-256 hex (null when there was none).
pub fn sample_item(sample: &crate::status::SampleRecord) -> Result<Vec<u8>, EntryError> {
    Ok(to_canonical_json(&json!({
        "monitor": sample.monitor_id,
        "at": timestamp(sample.at),
        "outcome": sample.outcome.as_str(),
        "latency_ms": sample.latency_ms,
        "in_maintenance": sample.in_maintenance,
        "error_sha256": sample.error.as_deref().map(sha256_hex),
    }))?)
}

/// `sla.policy` v1: the SLA policy (`[[sla]]`) an operator put in force: recorded when first
/// declared and again each time it changes, so a reader of the log knows which arithmetic every
/// report was computed under (`candor verify --uptime` recomputes reports with it). Weights and
/// coverage are integers (per mille, parts per million), never decimals.
pub fn sla_policy(spec: &crate::status::SlaPolicySpec) -> Result<Entry, EntryError> {
    let p = &spec.policy;
    build(
        "sla.policy",
        1,
        json!({
            "id": spec.id,
            "components": spec.components,
            "target_ppm": p.target_ppm,
            "weights": {
                "major": p.weights.major,
                "partial": p.weights.partial,
                "degraded": p.weights.degraded,
            },
            "exclude_maintenance": p.exclude_maintenance,
            "tiers": p.tiers.iter().map(|t| json!({
                "below_ppm": t.below_ppm,
                "credit_percent": t.credit_percent,
            })).collect::<Vec<_>>(),
            "min_coverage_ppm": p.min_coverage_ppm,
            "source": spec.source.as_str(),
            "period": match spec.period {
                crate::status::SlaPeriodKind::Month => "month",
                crate::status::SlaPeriodKind::Quarter => "quarter",
            },
            "time_zone": spec.time_zone,
            "user_counts": spec.user_counts.iter().map(|(component, users)| json!({
                "component": component,
                "users": users,
            })).collect::<Vec<_>>(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn content_revision_is_canonical_and_stable() {
        let e =
            content_revision("/security", "ab12", datetime!(2026-11-30 10:00:00.5 UTC)).unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"content_sha256":"ab12","page":"/security","published_at":"2026-11-30T10:00:00.5Z","type":"content.revision","v":1}"#
        );
    }

    #[test]
    fn person_commitments_depend_on_key_and_person() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        assert_eq!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k1, "operator:7")
        );
        assert_ne!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k1, "operator:8")
        );
        assert_ne!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k2, "operator:7")
        );
        assert_eq!(person_commitment(&k1, "x").len(), 64);
    }

    #[test]
    fn oversized_entries_are_refused() {
        let long = "x".repeat(MAX_ENTRY_BYTES);
        assert!(matches!(
            content_revision(&long, "", OffsetDateTime::UNIX_EPOCH),
            Err(EntryError::TooLarge { .. })
        ));
    }

    #[test]
    fn status_entries_are_canonical_and_hold_no_free_text() {
        use crate::status::*;
        let e = status_interval(
            &Subject::Component("api".into()),
            ComponentStatus::MajorOutage,
            datetime!(2026-10-01 10:00 UTC),
            datetime!(2026-10-01 10:07:30.25 UTC),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"end":"2026-10-01T10:07:30.25Z","start":"2026-10-01T10:00:00Z","status":"major_outage","subject":"component:api","type":"status.interval","v":1}"#
        );
        let t = datetime!(2026-10-01 10:00 UTC);
        let incident = Incident {
            id: "abcdefghijkl".into(),
            name: "Secret customer name in title".into(),
            status: IncidentStatus::Investigating,
            impact: IncidentImpact::Major,
            origin: IncidentOrigin::Operator,
            draft: false,
            created_at: t,
            updated_at: t,
            started_at: t,
            monitoring_at: None,
            resolved_at: None,
            components: vec![AffectedComponent {
                component_id: "api".into(),
                status: ComponentStatus::PartialOutage,
                users_affected: None,
            }],
            updates: Vec::new(),
        };
        let text =
            String::from_utf8(incident_record(&incident, "We are looking").unwrap().bytes).unwrap();
        assert!(!text.contains("Secret"), "{text}");
        assert!(text.contains(r#""components":[{"id":"api","status":"partial_outage"}]"#));
        // A declared count of users affected is added to its component, and only then.
        let mut counted = incident.clone();
        counted.components[0].users_affected = Some(300);
        let counted_text =
            String::from_utf8(incident_record(&counted, "We are looking").unwrap().bytes).unwrap();
        assert!(
            counted_text.contains(
                r#""components":[{"id":"api","status":"partial_outage","users_affected":300}]"#
            ),
            "{counted_text}"
        );
        assert_eq!(
            counted_text.replace(r#","users_affected":300"#, ""),
            text,
            "nothing else changes"
        );
        assert!(text.contains(r#""resolved_at":null"#));
        assert!(text.contains(&hex::encode(Sha256::digest(b"We are looking"))));
        let item = sample_item(&SampleRecord {
            monitor_id: "api-https".into(),
            at: t,
            outcome: SampleOutcome::Down,
            latency_ms: 1200,
            in_maintenance: false,
            error: Some("connection refused".into()),
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(item).unwrap(),
            format!(
                r#"{{"at":"2026-10-01T10:00:00Z","error_sha256":"{}","in_maintenance":false,"latency_ms":1200,"monitor":"api-https","outcome":"down"}}"#,
                hex::encode(Sha256::digest(b"connection refused"))
            )
        );
    }

    #[test]
    fn sla_policies_are_canonical_integers() {
        use crate::status::*;
        let spec = SlaPolicySpec {
            id: "standard".into(),
            components: vec!["api".into()],
            policy: crate::sla::Policy::default(),
            source: DowntimeSource::Both,
            period: SlaPeriodKind::Quarter,
            time_zone: Some("+02:00".into()),
            user_counts: vec![("api".into(), 1200)],
        };
        let text = String::from_utf8(sla_policy(&spec).unwrap().bytes).unwrap();
        assert_eq!(
            text,
            r#"{"components":["api"],"exclude_maintenance":true,"id":"standard","min_coverage_ppm":900000,"period":"quarter","source":"both","target_ppm":999000,"tiers":[{"below_ppm":999000,"credit_percent":25},{"below_ppm":990000,"credit_percent":50},{"below_ppm":950000,"credit_percent":100}],"time_zone":"+02:00","type":"sla.policy","user_counts":[{"component":"api","users":1200}],"v":1,"weights":{"degraded":0,"major":1000,"partial":300}}"#
        );
    }

    #[test]
    fn sla_reports_embed_a_canonical_object() {
        let e = sla_report("api", "2026-10", r#"{ "b": 1, "a": [true] }"#, Some(12)).unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"amends":12,"component":"api","period":"2026-10","report":{"a":[true],"b":1},"type":"sla.report","v":1}"#
        );
        assert_eq!(
            canonical_object(r#"{ "b": 1, "a": 2 }"#).unwrap(),
            r#"{"a":2,"b":1}"#
        );
        assert!(matches!(
            sla_report("api", "2026-10", "[1]", None),
            Err(EntryError::Json(_))
        ));
        assert!(matches!(
            canonical_object(r#"{"uptime": 99.95}"#),
            Err(EntryError::Canonical(_))
        ));
    }
}
