//! The status store's contract (samples, rollups, intervals, incidents, maintenance, overrides,
//! SLA reports and their log entries): the same tests against SQLite and PostgreSQL.

use candor_core::config::{Database, SecretString};
use candor_core::status::{
    AffectedComponent, ComponentStatus, IncidentImpact, IncidentOrigin, IncidentStatus,
    SampleOutcome, SampleRecord, Subject,
};
use candor_store::status::{
    IncidentFilter, NewIncident, NewIncidentUpdate, NewMaintenance, Resolution, StatusStore,
};
use candor_store::{LogStore, Store, StoreError};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::PgDatabase;

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

impl Backend {
    async fn open(&self) -> Store {
        let db = match self {
            Backend::Sqlite(dir) => Database::Sqlite(dir.path().join("candor.db")),
            Backend::Postgres(pg) => Database::Postgres(SecretString::new(pg.url.clone())),
        };
        Store::open(&db).await.unwrap()
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

async fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite(tempfile::tempdir().unwrap())];
    if let Some(pg) = PgDatabase::create().await {
        all.push(Backend::Postgres(pg));
    }
    all
}

const T0: OffsetDateTime = datetime!(2026-10-01 10:00:00 UTC);

fn sample(monitor: &str, at: OffsetDateTime, outcome: SampleOutcome, latency: u32) -> SampleRecord {
    SampleRecord {
        monitor_id: monitor.into(),
        at,
        outcome,
        latency_ms: latency,
        in_maintenance: false,
        error: (outcome == SampleOutcome::Down).then(|| "connection refused".to_owned()),
    }
}

fn component(id: &str, status: ComponentStatus) -> AffectedComponent {
    AffectedComponent {
        component_id: id.into(),
        status,
        users_affected: None,
    }
}

fn new_incident(name: &str) -> NewIncident {
    NewIncident {
        name: name.into(),
        impact: IncidentImpact::Major,
        status: IncidentStatus::Investigating,
        body: "We are looking into errors on the API.".into(),
        components: vec![component("api", ComponentStatus::PartialOutage)],
        origin: IncidentOrigin::Operator,
        draft: false,
        started_at: T0,
        resolved_at: None,
    }
}

fn maintenance(
    name: &str,
    components: &[&str],
    from: OffsetDateTime,
    hours: i64,
) -> NewMaintenance {
    NewMaintenance {
        name: name.into(),
        body: "Database upgrade.".into(),
        components: components.iter().map(|c| (*c).to_owned()).collect(),
        scheduled_for: from,
        scheduled_until: from + Duration::hours(hours),
    }
}

/// The entries appended since `from`, parsed.
async fn entries_since(store: &Store, from: u64) -> Vec<Value> {
    let size = store.sequenced_size().await.unwrap();
    store
        .entries(from, size)
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_slice(&e.entry).unwrap())
        .collect()
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn store_status_samples_round_trip_and_roll_up() {
    for backend in backends().await {
        let store = backend.open().await;
        let mut batch = Vec::new();
        // Two monitors, a sample every 20 s for two hours across midnight.
        let start = datetime!(2026-10-01 23:00:00 UTC);
        for i in 0..360 {
            let at = start + Duration::seconds(20 * i);
            let outcome = match i % 6 {
                0 => SampleOutcome::Down,
                1 => SampleOutcome::Degraded,
                _ => SampleOutcome::Up,
            };
            batch.push(sample("api-https", at, outcome, 10 + (i % 7) as u32));
            batch.push(SampleRecord {
                in_maintenance: i < 30,
                ..sample(
                    "web-https",
                    at + Duration::milliseconds(5),
                    SampleOutcome::Up,
                    100,
                )
            });
        }
        store.record_samples(&batch).await.unwrap();
        // A retried batch (and a repeat inside a batch) is not counted twice.
        store.record_samples(&batch[..100]).await.unwrap();
        store
            .record_samples(&[batch[0].clone(), batch[0].clone()])
            .await
            .unwrap();

        let end = start + Duration::hours(2);
        let api = store.samples("api-https", start, end).await.unwrap();
        assert_eq!(api.len(), 360, "{}", store.backend());
        assert_eq!(api[0], batch[0]);
        assert_eq!(api[1].error, None);
        let web = store.samples("web-https", start, end).await.unwrap();
        assert_eq!(web[0].at, start + Duration::milliseconds(5), "ms precision");
        assert!(web[0].in_maintenance);

        let minutes = store
            .rollups("api-https", Resolution::Minute, start, end)
            .await
            .unwrap();
        assert_eq!(minutes.len(), 120);
        for m in &minutes {
            assert_eq!(m.up + m.degraded + m.down, 3, "{m:?}");
        }
        assert_eq!(
            (minutes[0].down, minutes[0].degraded, minutes[0].up),
            (1, 1, 1)
        );
        let hours = store
            .rollups("api-https", Resolution::Hour, start, end)
            .await
            .unwrap();
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].bucket_start, start);
        assert_eq!(
            (hours[0].up, hours[0].degraded, hours[0].down),
            (120, 30, 30)
        );
        assert_eq!(hours[0].latency_max_ms, 16);
        let expected_sum: u64 = (0..180u64).map(|i| 10 + i % 7).sum();
        assert_eq!(hours[0].latency_sum_ms, expected_sum);
        let days = store
            .rollups(
                "web-https",
                Resolution::Day,
                datetime!(2026-10-01 0:00 UTC),
                end,
            )
            .await
            .unwrap();
        assert_eq!(days.len(), 2, "the batch crosses midnight");
        assert_eq!(days[0].bucket_start, datetime!(2026-10-01 0:00 UTC));
        assert_eq!((days[0].up, days[0].in_maintenance), (180, 30));
        assert_eq!((days[1].up, days[1].in_maintenance), (180, 0));
        assert_eq!(days[1].latency_sum_ms, 18_000);
        assert!(
            store
                .rollups("nobody", Resolution::Day, start, end)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.sequenced_size().await.unwrap(),
            0,
            "samples are not entries"
        );
        // A batch mixing stored and new samples counts only the new ones.
        let new = sample("api-https", end, SampleOutcome::Up, 7);
        store
            .record_samples(&[batch[2].clone(), new.clone(), batch[4].clone()])
            .await
            .unwrap();
        let hours = store
            .rollups(
                "api-https",
                Resolution::Hour,
                start,
                end + Duration::hours(1),
            )
            .await
            .unwrap();
        assert_eq!(hours.len(), 3);
        assert_eq!(hours[0].up + hours[0].degraded + hours[0].down, 180);
        assert_eq!((hours[2].up, hours[2].latency_sum_ms), (1, 7));
    }
}

#[tokio::test]
async fn store_status_prune_deletes_only_what_is_older() {
    for backend in backends().await {
        let store = backend.open().await;
        let batch: Vec<_> = (0..10)
            .map(|day| sample("api-https", T0 + Duration::days(day), SampleOutcome::Up, 5))
            .collect();
        store.record_samples(&batch).await.unwrap();
        let pruned = store
            .prune(T0 + Duration::days(7), T0 + Duration::days(3))
            .await
            .unwrap();
        assert_eq!(
            (pruned.samples, pruned.minute_rollups),
            (7, 3),
            "{}",
            store.backend()
        );
        let all = (T0 - Duration::days(1), T0 + Duration::days(30));
        let left = store.samples("api-https", all.0, all.1).await.unwrap();
        assert_eq!(left.len(), 3);
        assert_eq!(left[0].at, T0 + Duration::days(7));
        let minutes = store
            .rollups("api-https", Resolution::Minute, all.0, all.1)
            .await
            .unwrap();
        assert_eq!(minutes.len(), 7);
        let days = store
            .rollups("api-https", Resolution::Day, all.0, all.1)
            .await
            .unwrap();
        assert_eq!(days.len(), 10, "hour and day rollups are kept");
        let again = store
            .prune(T0 + Duration::days(7), T0 + Duration::days(3))
            .await
            .unwrap();
        assert_eq!((again.samples, again.minute_rollups), (0, 0));
    }
}

#[tokio::test]
async fn store_status_change_closes_the_previous_interval_with_one_entry() {
    for backend in backends().await {
        let store = backend.open().await;
        let api = Subject::Component("api".into());
        let monitor = Subject::Monitor("api-https".into());
        assert_eq!(
            store
                .change_status(&api, ComponentStatus::Operational, T0)
                .await
                .unwrap(),
            None,
            "nothing was open"
        );
        store
            .change_status(&monitor, ComponentStatus::Operational, T0)
            .await
            .unwrap();
        // The same status again only confirms the interval.
        assert_eq!(
            store
                .change_status(
                    &api,
                    ComponentStatus::Operational,
                    T0 + Duration::minutes(1)
                )
                .await
                .unwrap(),
            None
        );
        let before = store.sequenced_size().await.unwrap();
        let t1 = T0 + Duration::minutes(5) + Duration::milliseconds(250);
        let index = store
            .change_status(&api, ComponentStatus::MajorOutage, t1)
            .await
            .unwrap()
            .expect("an interval closed");
        assert_eq!(index, before);
        let added = entries_since(&store, before).await;
        assert_eq!(added.len(), 1, "{}", store.backend());
        assert_eq!(
            added[0],
            serde_json::json!({
                "type": "status.interval", "v": 1, "subject": "component:api",
                "status": "operational", "start": "2026-10-01T10:00:00Z",
                "end": "2026-10-01T10:05:00.25Z",
            })
        );
        let t2 = t1 + Duration::minutes(10);
        store
            .touch_intervals(&[api.clone(), monitor.clone()], t1 + Duration::minutes(3))
            .await
            .unwrap();
        let open = store.open_intervals().await.unwrap();
        assert_eq!(open.len(), 2);
        let open_api = open.iter().find(|i| i.subject == api).unwrap();
        assert_eq!(open_api.status, ComponentStatus::MajorOutage);
        assert_eq!((open_api.start, open_api.end), (t1, None));
        assert_eq!(open_api.last_seen, t1 + Duration::minutes(3));

        // Closing leaves a gap; a later status starts a new interval.
        let closed = store.close_interval(&api, t2).await.unwrap();
        assert_eq!(closed, Some(before + 1));
        assert_eq!(store.close_interval(&api, t2).await.unwrap(), None);
        store
            .change_status(&api, ComponentStatus::Operational, t2 + Duration::hours(1))
            .await
            .unwrap();
        let history = store
            .intervals(&api, T0, T0 + Duration::days(1))
            .await
            .unwrap();
        let spans: Vec<_> = history.iter().map(|i| (i.status, i.start, i.end)).collect();
        assert_eq!(
            spans,
            [
                (ComponentStatus::Operational, T0, Some(t1)),
                (ComponentStatus::MajorOutage, t1, Some(t2)),
                (ComponentStatus::Operational, t2 + Duration::hours(1), None),
            ]
        );
        // Only intervals overlapping the range, including one that started before it.
        let window = store
            .intervals(&api, t1 + Duration::minutes(1), t2 + Duration::minutes(30))
            .await
            .unwrap();
        assert_eq!(window.len(), 1);
        assert_eq!(window[0].start, t1);
        // Time does not run backwards.
        let err = store
            .change_status(&api, ComponentStatus::MajorOutage, t2)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    }
}

#[tokio::test]
async fn store_status_open_intervals_survive_a_restart() {
    for backend in backends().await {
        let store = backend.open().await;
        let api = Subject::Component("api".into());
        store
            .change_status(&api, ComponentStatus::DegradedPerformance, T0)
            .await
            .unwrap();
        store.close().await;
        let reopened = backend.open().await;
        let open = reopened.open_intervals().await.unwrap();
        assert_eq!(open.len(), 1, "{}", reopened.backend());
        assert_eq!(open[0].subject, api);
        assert_eq!(open[0].status, ComponentStatus::DegradedPerformance);
        assert_eq!(open[0].start, T0);
        let index = reopened
            .change_status(&api, ComponentStatus::Operational, T0 + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(index, Some(0));
    }
}

#[tokio::test]
async fn store_status_incident_retry_returns_the_first_incident_and_one_entry() {
    for backend in backends().await {
        let store = backend.open().await;
        let new = new_incident("API errors");
        let (first, created) = store
            .create_incident(&new, T0 + Duration::minutes(2), Some("req-1"))
            .await
            .unwrap();
        assert!(created);
        assert_eq!(first.id.len(), 12);
        let (again, created_again) = store
            .create_incident(&new, T0 + Duration::minutes(3), Some("req-1"))
            .await
            .unwrap();
        assert!(!created_again, "{}", store.backend());
        assert_eq!(again, first);
        assert_eq!(store.incident(&first.id).await.unwrap().unwrap(), first);
        let entries = entries_since(&store, 0).await;
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0],
            serde_json::json!({
                "type": "incident.record", "v": 1, "id": first.id, "impact": "major",
                "status": "investigating", "origin": "operator", "draft": false,
                "started_at": "2026-10-01T10:00:00Z", "resolved_at": null,
                "components": [{"id": "api", "status": "partial_outage"}],
                "name_sha256": sha256_hex("API errors"),
                "body_sha256": sha256_hex("We are looking into errors on the API."),
            })
        );
        assert_eq!(first.updates.len(), 1);
        assert_eq!(first.updates[0].display_at, T0 + Duration::minutes(2));
        // Without a key, a second call is a second incident.
        let (other, _) = store.create_incident(&new, T0, None).await.unwrap();
        assert_ne!(other.id, first.id);
    }
}

#[tokio::test]
async fn store_status_incident_lifecycle() {
    for backend in backends().await {
        let store = backend.open().await;
        let mut draft = new_incident("API errors");
        draft.draft = true;
        draft.origin = IncidentOrigin::Monitor;
        let (incident, _) = store.create_incident(&draft, T0, None).await.unwrap();
        let id = incident.id.clone();
        let public = IncidentFilter::default();
        assert!(store.incidents(&public).await.unwrap().is_empty());
        let size = store.sequenced_size().await.unwrap();
        let published = store
            .publish_incident(&id, T0 + Duration::minutes(1))
            .await
            .unwrap();
        assert!(!published.draft);
        assert_eq!(
            entries_since(&store, size).await,
            [
                serde_json::json!({"type": "incident.publish", "v": 1, "id": id, "published_at": "2026-10-01T10:01:00Z"})
            ]
        );
        // Publishing again changes nothing.
        store
            .publish_incident(&id, T0 + Duration::minutes(2))
            .await
            .unwrap();
        assert_eq!(store.sequenced_size().await.unwrap(), size + 1);

        let t_mon = T0 + Duration::minutes(20);
        let update = NewIncidentUpdate {
            status: IncidentStatus::Monitoring,
            body: "A fix is deployed.".into(),
            components: vec![
                component("api", ComponentStatus::DegradedPerformance),
                component("web", ComponentStatus::DegradedPerformance),
            ],
            display_at: t_mon,
        };
        let size = store.sequenced_size().await.unwrap();
        let monitoring = store
            .update_incident(&id, &update, t_mon, Some("upd-1"))
            .await
            .unwrap();
        assert_eq!(
            monitoring.status,
            IncidentStatus::Monitoring,
            "{}",
            store.backend()
        );
        assert_eq!(monitoring.monitoring_at, Some(t_mon));
        assert_eq!(monitoring.resolved_at, None);
        assert_eq!(monitoring.updated_at, t_mon);
        assert_eq!(monitoring.components, update.components);
        assert_eq!(monitoring.updates.len(), 2);
        assert_eq!(
            monitoring.updates[0].body, "A fix is deployed.",
            "newest first"
        );
        let added = entries_since(&store, size).await;
        assert_eq!(
            added,
            [serde_json::json!({
                "type": "incident.update", "v": 1, "incident": id,
                "update_id": monitoring.updates[0].id, "status": "monitoring",
                "display_at": "2026-10-01T10:20:00Z",
                "components": [{"id": "api", "status": "degraded_performance"}, {"id": "web", "status": "degraded_performance"}],
                "body_sha256": sha256_hex("A fix is deployed."),
            })]
        );
        // A retried update is not added twice.
        let retried = store
            .update_incident(&id, &update, t_mon + Duration::seconds(5), Some("upd-1"))
            .await
            .unwrap();
        assert_eq!(retried, monitoring);

        // Back-filled resolution: written later, shown (and resolved) at its display time.
        let t_res = T0 + Duration::minutes(45);
        let resolved = store
            .update_incident(
                &id,
                &NewIncidentUpdate {
                    status: IncidentStatus::Resolved,
                    body: "Resolved.".into(),
                    components: vec![component("api", ComponentStatus::Operational)],
                    display_at: t_res,
                },
                T0 + Duration::hours(2),
                None,
            )
            .await
            .unwrap();
        assert_eq!(resolved.resolved_at, Some(t_res));
        assert_eq!(resolved.monitoring_at, Some(t_mon));
        assert_eq!(
            resolved.components,
            [
                component("api", ComponentStatus::Operational),
                component("web", ComponentStatus::DegradedPerformance)
            ],
            "replaced per component named"
        );
        let post = store
            .update_incident(
                &id,
                &NewIncidentUpdate {
                    status: IncidentStatus::Postmortem,
                    body: "What happened.".into(),
                    components: vec![],
                    display_at: T0 + Duration::days(2),
                },
                T0 + Duration::days(2),
                None,
            )
            .await
            .unwrap();
        assert_eq!(post.resolved_at, Some(t_res), "already resolved");
        assert_eq!(
            post.updates.iter().map(|u| u.status).collect::<Vec<_>>(),
            [
                IncidentStatus::Postmortem,
                IncidentStatus::Resolved,
                IncidentStatus::Monitoring,
                IncidentStatus::Investigating
            ]
        );
        assert_eq!(store.incident(&id).await.unwrap().unwrap(), post);

        // Filters: a second, open incident started later.
        let mut later = new_incident("Slow dashboard");
        later.started_at = T0 + Duration::days(3);
        let (open, _) = store
            .create_incident(&later, T0 + Duration::days(3), None)
            .await
            .unwrap();
        let all = store.incidents(&IncidentFilter::default()).await.unwrap();
        assert_eq!(
            all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            [open.id.as_str(), id.as_str()],
            "newest first"
        );
        let unresolved = store
            .incidents(&IncidentFilter {
                unresolved_only: true,
                ..IncidentFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].id, open.id);
        let window = store
            .incidents(&IncidentFilter {
                since: Some(T0 + Duration::hours(1)),
                until: Some(T0 + Duration::days(3)),
                ..IncidentFilter::default()
            })
            .await
            .unwrap();
        assert!(window.is_empty(), "one ended before, one starts at the end");
        let limited = store
            .incidents(&IncidentFilter {
                since: Some(T0 + Duration::minutes(30)),
                limit: Some(1),
                ..IncidentFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(limited.len(), 1);
        assert_eq!(limited[0].id, open.id);
    }
}

#[tokio::test]
async fn store_status_unknown_incident_is_not_found() {
    for backend in backends().await {
        let store = backend.open().await;
        let update = NewIncidentUpdate {
            status: IncidentStatus::Identified,
            body: "Found it.".into(),
            components: vec![],
            display_at: T0,
        };
        let err = store
            .update_incident("abcdefghijkl", &update, T0, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(what) if what == "incident abcdefghijkl"),
            "{err}"
        );
        let err = store
            .publish_incident("abcdefghijkl", T0)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        assert!(store.incident("abcdefghijkl").await.unwrap().is_none());
        assert_eq!(store.sequenced_size().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn store_status_an_invalid_incident_leaves_nothing_behind() {
    for backend in backends().await {
        let store = backend.open().await;
        let backfill = NewIncident {
            status: IncidentStatus::Resolved,
            origin: IncidentOrigin::Backfill,
            started_at: datetime!(2026-10-03 00:00 UTC),
            resolved_at: Some(datetime!(2026-10-02 00:00 UTC)),
            ..new_incident("Outage last week")
        };
        let err = store
            .create_incident(&backfill, T0, Some("k"))
            .await
            .unwrap_err();
        let StoreError::Invalid(message) = &err else {
            panic!("{err}")
        };
        assert!(
            message.contains("2026-10-02T00:00:00Z") && message.contains("2026-10-03T00:00:00Z"),
            "{message}"
        );
        let nameless = NewIncident {
            name: "  ".into(),
            ..new_incident("")
        };
        assert!(matches!(
            store.create_incident(&nameless, T0, None).await,
            Err(StoreError::Invalid(_))
        ));
        let everything = IncidentFilter {
            include_drafts: true,
            ..IncidentFilter::default()
        };
        assert!(
            store.incidents(&everything).await.unwrap().is_empty(),
            "{}",
            store.backend()
        );
        assert_eq!(store.sequenced_size().await.unwrap(), 0, "no entry");

        // A valid back-fill is resolved at its end and shown then.
        let fixed = NewIncident {
            resolved_at: Some(datetime!(2026-10-03 01:30 UTC)),
            ..backfill
        };
        let (incident, _) = store.create_incident(&fixed, T0, Some("k")).await.unwrap();
        assert_eq!(incident.resolved_at, Some(datetime!(2026-10-03 01:30 UTC)));
        assert_eq!(incident.status, IncidentStatus::Resolved);
        // An update cannot resolve it before it started either.
        let mut open = new_incident("Open one");
        open.started_at = T0 + Duration::hours(1);
        let (open, _) = store
            .create_incident(&open, T0 + Duration::hours(1), None)
            .await
            .unwrap();
        let size = store.sequenced_size().await.unwrap();
        let err = store
            .update_incident(
                &open.id,
                &NewIncidentUpdate {
                    status: IncidentStatus::Resolved,
                    body: "Done.".into(),
                    components: vec![],
                    display_at: T0,
                },
                T0 + Duration::hours(2),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert_eq!(store.sequenced_size().await.unwrap(), size);
        assert_eq!(store.incident(&open.id).await.unwrap().unwrap(), open);
    }
}

#[tokio::test]
async fn store_status_maintenance_windows_of_one_component_never_overlap() {
    for backend in backends().await {
        let store = backend.open().await;
        let at = datetime!(2026-09-20 12:00 UTC);
        let from = datetime!(2026-10-05 02:00 UTC);
        let (db, created) = store
            .schedule_maintenance(
                &maintenance("DB upgrade", &["api", "db"], from, 2),
                at,
                Some("m-1"),
            )
            .await
            .unwrap();
        assert!(created);
        assert!(db.announced_in_advance());
        let (same, again) = store
            .schedule_maintenance(
                &maintenance("DB upgrade", &["api", "db"], from, 2),
                at,
                Some("m-1"),
            )
            .await
            .unwrap();
        assert_eq!((same, again), (db.clone(), false));
        let err = store
            .schedule_maintenance(
                &maintenance("Network", &["web", "db"], from + Duration::hours(1), 2),
                at,
                None,
            )
            .await
            .unwrap_err();
        let StoreError::Conflict(message) = &err else {
            panic!("{err}")
        };
        assert!(
            message.contains("DB upgrade")
                && message.contains(&db.id)
                && message.contains("\"db\""),
            "{message}"
        );
        // Other components, or the same one right after, are fine.
        store
            .schedule_maintenance(
                &maintenance("Network", &["web"], from + Duration::hours(1), 2),
                at,
                None,
            )
            .await
            .unwrap();
        store
            .schedule_maintenance(
                &maintenance("Follow-up", &["db"], from + Duration::hours(2), 1),
                at,
                None,
            )
            .await
            .unwrap();
        let err = store
            .schedule_maintenance(&maintenance("Backwards", &["web"], from, 0), at, None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        let entries = entries_since(&store, 0).await;
        assert_eq!(entries.len(), 3, "{}", store.backend());
        assert_eq!(
            entries[0],
            serde_json::json!({
                "type": "maintenance.record", "v": 1, "id": db.id,
                "announced_at": "2026-09-20T12:00:00Z", "scheduled_for": "2026-10-05T02:00:00Z",
                "scheduled_until": "2026-10-05T04:00:00Z", "components": ["api", "db"],
                "name_sha256": sha256_hex("DB upgrade"), "body_sha256": sha256_hex("Database upgrade."),
            })
        );
        // Completed early: the window ends then, and the time after it is free.
        let done = store
            .complete_maintenance(&db.id, from + Duration::minutes(30))
            .await
            .unwrap();
        assert_eq!(done.effective_end(), from + Duration::minutes(30));
        assert_eq!(
            entries_since(&store, 3).await,
            [
                serde_json::json!({"type": "maintenance.complete", "v": 1, "id": db.id, "completed_at": "2026-10-05T02:30:00Z"})
            ]
        );
        store
            .schedule_maintenance(
                &maintenance("Retry", &["api"], from + Duration::hours(1), 1),
                at,
                None,
            )
            .await
            .unwrap();
        let windows = store
            .maintenances(from + Duration::minutes(45), from + Duration::hours(3))
            .await
            .unwrap();
        let mut names: Vec<_> = windows.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names.pop(), Some("Follow-up"), "by start");
        names.sort_unstable();
        assert_eq!(
            names,
            ["Network", "Retry"],
            "the completed window is left out"
        );
        assert!(matches!(
            store.complete_maintenance("nope", at).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn store_status_overrides_are_journalled() {
    for backend in backends().await {
        let store = backend.open().await;
        store
            .set_component_override("api", Some(ComponentStatus::MajorOutage), T0)
            .await
            .unwrap();
        store
            .set_component_override("api", Some(ComponentStatus::MajorOutage), T0)
            .await
            .unwrap();
        assert_eq!(
            store.component_overrides().await.unwrap(),
            [("api".to_owned(), ComponentStatus::MajorOutage)]
        );
        store
            .set_component_override("api", None, T0 + Duration::hours(1))
            .await
            .unwrap();
        assert!(store.component_overrides().await.unwrap().is_empty());
        assert_eq!(
            entries_since(&store, 0).await,
            [
                serde_json::json!({"type": "component.override", "v": 1, "component": "api", "status": "major_outage", "at": "2026-10-01T10:00:00Z"}),
                serde_json::json!({"type": "component.override", "v": 1, "component": "api", "status": null, "at": "2026-10-01T11:00:00Z"}),
            ],
            "{}",
            store.backend()
        );
    }
}

#[tokio::test]
async fn store_status_sla_reports_form_an_amendment_chain() {
    for backend in backends().await {
        let store = backend.open().await;
        let at = datetime!(2026-11-01 00:05 UTC);
        let first = store
            .record_sla_report(
                "api",
                "2026-10",
                r#"{"uptime_ppm": 999100, "credit_percent": 0}"#,
                None,
                at,
            )
            .await
            .unwrap();
        assert_eq!(
            first.report_json,
            r#"{"credit_percent":0,"uptime_ppm":999100}"#
        );
        // A retry returns the same record.
        let retry = store
            .record_sla_report(
                "api",
                "2026-10",
                r#"{"credit_percent":0,"uptime_ppm":999100}"#,
                None,
                at,
            )
            .await
            .unwrap();
        assert_eq!(retry, first);
        let err = store
            .record_sla_report("api", "2026-10", r#"{"uptime_ppm": 1}"#, None, at)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let amended = store
            .record_sla_report(
                "api",
                "2026-10",
                r#"{"uptime_ppm": 998000, "credit_percent": 10}"#,
                Some(first.log_index),
                at + Duration::days(3),
            )
            .await
            .unwrap();
        assert_eq!(amended.amends, Some(first.log_index));
        // Amending anything but the report in force is refused.
        let err = store
            .record_sla_report("api", "2026-10", r#"{"x": 1}"#, Some(first.log_index), at)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(matches!(
            store
                .record_sla_report("api", "2026-09", r#"{"x": 1}"#, Some(0), at)
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store
                .record_sla_report("api", "2026-09", r#"{"uptime": 99.9}"#, None, at)
                .await,
            Err(StoreError::Invalid(_))
        ));
        store
            .record_sla_report("web", "2026-10", r#"{"x": 1}"#, None, at)
            .await
            .unwrap();
        let chain = store.sla_reports("api", "2026-10").await.unwrap();
        assert_eq!(
            chain,
            [first.clone(), amended.clone()],
            "{}",
            store.backend()
        );
        let entries = entries_since(&store, 0).await;
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[1],
            serde_json::json!({
                "type": "sla.report", "v": 1, "component": "api", "period": "2026-10",
                "report": {"uptime_ppm": 998000, "credit_percent": 10}, "amends": first.log_index,
            })
        );
        assert_eq!(entries[0]["amends"], Value::Null);
    }
}

#[tokio::test]
async fn store_status_concurrent_writers_never_both_pass_a_check() {
    for backend in backends().await {
        // Two stores stand for two replicas sharing one database.
        let (a, b) = (backend.open().await, backend.open().await);
        let from = datetime!(2026-10-05 02:00 UTC);
        let (first, second) = (
            maintenance("A", &["db"], from, 2),
            maintenance("B", &["db"], from + Duration::hours(1), 2),
        );
        let (ra, rb) = tokio::join!(
            a.schedule_maintenance(&first, T0, None),
            b.schedule_maintenance(&second, T0, None),
        );
        assert_eq!(
            usize::from(ra.is_ok()) + usize::from(rb.is_ok()),
            1,
            "{}: {ra:?} {rb:?}",
            a.backend()
        );
        let api = Subject::Component("api".into());
        a.change_status(&api, ComponentStatus::Operational, T0)
            .await
            .unwrap();
        let t1 = T0 + Duration::minutes(1);
        let (ca, cb) = tokio::join!(
            a.change_status(&api, ComponentStatus::MajorOutage, t1),
            b.change_status(&api, ComponentStatus::MajorOutage, t1),
        );
        let closed: Vec<_> = [ca.unwrap(), cb.unwrap()].into_iter().flatten().collect();
        assert_eq!(closed.len(), 1, "one interval closed, once");
        assert_eq!(a.open_intervals().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn store_status_intervals_of_a_kind_come_back_in_one_read() {
    for backend in backends().await {
        let store = backend.open().await;
        let web = Subject::Component("web".into());
        let api = Subject::Component("api".into());
        let monitor = Subject::Monitor("api-https".into());
        for s in [&web, &api, &monitor] {
            store
                .change_status(s, ComponentStatus::Operational, T0)
                .await
                .unwrap();
        }
        store
            .change_status(&api, ComponentStatus::MajorOutage, T0 + Duration::hours(1))
            .await
            .unwrap();
        let all = store
            .intervals_of_kind("component", T0, T0 + Duration::hours(2))
            .await
            .unwrap();
        let got: Vec<(String, ComponentStatus)> = all
            .iter()
            .map(|i| (i.subject.id().to_owned(), i.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("api".to_owned(), ComponentStatus::Operational),
                ("api".to_owned(), ComponentStatus::MajorOutage),
                ("web".to_owned(), ComponentStatus::Operational),
            ],
            "{}",
            backend.name()
        );
        // A window after the outage began sees only what overlaps it.
        let later = store
            .intervals_of_kind(
                "component",
                T0 + Duration::minutes(90),
                T0 + Duration::hours(2),
            )
            .await
            .unwrap();
        assert_eq!(later.len(), 2, "{}", backend.name());
    }
}

#[tokio::test]
async fn store_status_users_affected_round_trip_and_reach_the_entries() {
    for backend in backends().await {
        let store = backend.open().await;
        let mut new = new_incident("Login errors");
        new.components = vec![
            AffectedComponent {
                users_affected: Some(300),
                ..component("api", ComponentStatus::PartialOutage)
            },
            component("web", ComponentStatus::DegradedPerformance),
        ];
        let (created, _) = store.create_incident(&new, T0, None).await.unwrap();
        assert_eq!(created.components, new.components, "{}", backend.name());
        assert_eq!(created.updates[0].affected, new.components);
        // An update replaces the count of the components it names: api's goes to 900, web
        // gains one, and a component named without a count loses its count.
        let updated = store
            .update_incident(
                &created.id,
                &NewIncidentUpdate {
                    status: IncidentStatus::Identified,
                    body: "More users".into(),
                    components: vec![
                        AffectedComponent {
                            users_affected: Some(900),
                            ..component("api", ComponentStatus::MajorOutage)
                        },
                        AffectedComponent {
                            users_affected: Some(5),
                            ..component("web", ComponentStatus::DegradedPerformance)
                        },
                    ],
                    display_at: T0 + Duration::minutes(10),
                },
                T0 + Duration::minutes(10),
                None,
            )
            .await
            .unwrap();
        let counts = |i: &candor_core::status::Incident| {
            i.components
                .iter()
                .map(|c| (c.component_id.clone(), c.users_affected))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            counts(&updated),
            vec![("api".into(), Some(900)), ("web".into(), Some(5))]
        );
        let cleared = store
            .update_incident(
                &created.id,
                &NewIncidentUpdate {
                    status: IncidentStatus::Monitoring,
                    body: "Count unknown".into(),
                    components: vec![component("web", ComponentStatus::Operational)],
                    display_at: T0 + Duration::minutes(20),
                },
                T0 + Duration::minutes(20),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            counts(&cleared),
            vec![("api".into(), Some(900)), ("web".into(), None)]
        );
        assert_eq!(store.incident(&created.id).await.unwrap().unwrap(), cleared);
        // The entries carry a count only where one was declared.
        let entries = entries_since(&store, 0).await;
        assert_eq!(
            entries[0]["components"],
            serde_json::json!([
                {"id": "api", "status": "partial_outage", "users_affected": 300},
                {"id": "web", "status": "degraded_performance"}
            ]),
            "{}",
            backend.name()
        );
        assert_eq!(
            entries[2]["components"],
            serde_json::json!([{"id": "web", "status": "operational"}])
        );
    }
}

#[tokio::test]
async fn store_status_closed_intervals_come_with_their_log_index_and_only_after_a_given_one() {
    for backend in backends().await {
        let store = backend.open().await;
        let api = Subject::Component("api".into());
        let web = Subject::Component("web".into());
        let monitor = Subject::Monitor("api-https".into());
        for s in [&api, &web, &monitor] {
            store
                .change_status(s, ComponentStatus::Operational, T0)
                .await
                .unwrap();
        }
        // Nothing is closed yet: open intervals are not history.
        let none = store
            .closed_intervals_of_kind("component", T0 - Duration::days(1), None)
            .await
            .unwrap();
        assert!(none.is_empty(), "{}", backend.name());
        store
            .change_status(&api, ComponentStatus::MajorOutage, T0 + Duration::hours(1))
            .await
            .unwrap();
        store
            .change_status(
                &monitor,
                ComponentStatus::MajorOutage,
                T0 + Duration::hours(1),
            )
            .await
            .unwrap();
        let first = store
            .closed_intervals_of_kind("component", T0 - Duration::days(1), None)
            .await
            .unwrap();
        assert_eq!(first.len(), 1, "{}", backend.name());
        let (index, interval) = &first[0];
        assert_eq!(interval.subject, api, "{}", backend.name());
        assert_eq!(interval.end, Some(T0 + Duration::hours(1)));
        store
            .change_status(
                &web,
                ComponentStatus::PartialOutage,
                T0 + Duration::hours(2),
            )
            .await
            .unwrap();
        store
            .change_status(&api, ComponentStatus::Operational, T0 + Duration::hours(3))
            .await
            .unwrap();
        let since = store
            .closed_intervals_of_kind("component", T0 - Duration::days(1), Some(*index))
            .await
            .unwrap();
        let got: Vec<(String, ComponentStatus)> = since
            .iter()
            .map(|(_, i)| (i.subject.id().to_owned(), i.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("web".to_owned(), ComponentStatus::Operational),
                ("api".to_owned(), ComponentStatus::MajorOutage),
            ],
            "{}",
            backend.name()
        );
        assert!(since[0].0 > *index && since[1].0 > since[0].0);
        // Those that ended before the cut-off are left out.
        let late = store
            .closed_intervals_of_kind("component", T0 + Duration::hours(2), None)
            .await
            .unwrap();
        assert_eq!(late.len(), 1, "{}", backend.name());
    }
}

#[tokio::test]
async fn store_status_api_monitors_are_created_replaced_and_deleted() {
    for backend in backends().await {
        let store = backend.open().await;
        assert!(store.api_monitors().await.unwrap().is_empty());
        let created = store
            .put_api_monitor(
                "beat",
                r#"{"kind":"heartbeat","period":"1h"}"#,
                Some("ab12"),
                T0,
            )
            .await
            .unwrap();
        assert!(created, "{}", backend.name());
        let replaced = store
            .put_api_monitor(
                "beat",
                r#"{"kind":"heartbeat","period":"2h"}"#,
                None,
                T0 + Duration::hours(1),
            )
            .await
            .unwrap();
        assert!(!replaced, "{}", backend.name());
        store
            .put_api_monitor("api", r#"{"kind":"tcp"}"#, None, T0)
            .await
            .unwrap();
        let all = store.api_monitors().await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            vec!["api", "beat"]
        );
        let beat = &all[1];
        assert!(beat.definition.contains("2h"), "{}", backend.name());
        assert_eq!(beat.token_hash.as_deref(), Some("ab12"), "the hash is kept");
        assert_eq!(beat.created_at, T0);
        assert_eq!(beat.updated_at, T0 + Duration::hours(1));
        assert!(
            !format!("{beat:?}").contains("2h"),
            "no definition in Debug"
        );
        assert!(store.delete_api_monitor("beat").await.unwrap());
        assert!(!store.delete_api_monitor("beat").await.unwrap());
        assert_eq!(store.api_monitors().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn store_status_samples_of_a_window_come_from_every_monitor() {
    for backend in backends().await {
        let store = backend.open().await;
        let at = |s: i64| T0 + Duration::seconds(s);
        store
            .record_samples(&[
                sample("web", at(10), SampleOutcome::Up, 5),
                sample("api", at(20), SampleOutcome::Down, 0),
                sample("api", at(5), SampleOutcome::Up, 3),
                sample("api", at(60), SampleOutcome::Up, 3),
                sample("removed", at(59), SampleOutcome::Up, 1),
            ])
            .await
            .unwrap();
        let got: Vec<(String, OffsetDateTime)> = store
            .samples_between(T0, at(60))
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.monitor_id, s.at))
            .collect();
        assert_eq!(
            got,
            vec![
                ("api".to_owned(), at(5)),
                ("api".to_owned(), at(20)),
                ("removed".to_owned(), at(59)),
                ("web".to_owned(), at(10)),
            ],
            "{}",
            backend.name()
        );
    }
}
