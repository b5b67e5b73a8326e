//! The monitoring engine: probe samples in, history and status out.
//!
//! One task owns the monitors' threshold state machines and the components' current status. It
//! batches samples into the store once a second (a sample is acknowledged when that write
//! commits, and survives a crash), turns confirmed transitions into status intervals (each
//! closed interval is journalled), derives component status from its monitors, drafts or
//! publishes an incident when a component goes down (per the component's policy), splits open
//! intervals at month boundaries (UTC and each SLA policy's time zone) so every period's
//! intervals are in the log when it closes,
//! commits each minute of samples to the log as a `digest.batch`, prunes history past its
//! retention, and closes (and amends) SLA reports.
//!
//! A restart resumes from the open intervals: if their data is recent the monitors resume in
//! their state (no false outage); if not, the interval is closed where data stopped, leaving a
//! gap that counts against coverage rather than inventing availability.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_core::Clock;
use candor_core::entries::{digest_batch, items_root, sample_item, timestamp};
use candor_core::monitor::{Check, MonitorSpec};
use candor_core::status::{
    AffectedComponent, ComponentStatus, IncidentImpact, IncidentOrigin, IncidentPolicy,
    IncidentStatus, Maintenance, SampleOutcome, SampleRecord, StatusInterval, StatusSettings,
    Subject,
};
use candor_core::uptime::{ComponentReport, Records, component_report};
use candor_probe::{
    HeartbeatTracker, MonitorState, Outcome, PingKind, Sample, StateMachine, TokenHash,
};
use candor_store::status::{IncidentFilter, NewIncident, NewIncidentUpdate, StatusStore};
use candor_store::{LogStore, StoreError};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// The digest stream samples are committed to.
pub const SAMPLE_STREAM: &str = "probe.samples";

/// Width of one sample digest window.
const DIGEST_WINDOW_SECONDS: i64 = 60;

/// How far before the previous run's last data a start looks for samples to digest again.
const RESUMED_DIGEST_MINUTES: i64 = 5;

/// Status of a monitor state, as a component status.
pub fn status_of(state: MonitorState) -> Option<ComponentStatus> {
    match state {
        MonitorState::Unknown => None,
        MonitorState::Up => Some(ComponentStatus::Operational),
        MonitorState::Degraded => Some(ComponentStatus::DegradedPerformance),
        MonitorState::Down => Some(ComponentStatus::MajorOutage),
    }
}

fn state_of(status: ComponentStatus) -> MonitorState {
    match status {
        ComponentStatus::Operational | ComponentStatus::UnderMaintenance => MonitorState::Up,
        ComponentStatus::DegradedPerformance => MonitorState::Degraded,
        ComponentStatus::PartialOutage | ComponentStatus::MajorOutage => MonitorState::Down,
    }
}

/// A component's status from its monitors' states: all down → major outage, some down →
/// partial outage, any degraded → degraded performance, else operational. None while no
/// monitor has a state.
pub fn component_status_from(states: &[MonitorState]) -> Option<ComponentStatus> {
    let known: Vec<MonitorState> = states
        .iter()
        .copied()
        .filter(|s| *s != MonitorState::Unknown)
        .collect();
    if known.is_empty() {
        return None;
    }
    let down = known.iter().filter(|s| **s == MonitorState::Down).count();
    Some(if down == known.len() {
        ComponentStatus::MajorOutage
    } else if down > 0 {
        ComponentStatus::PartialOutage
    } else if known.contains(&MonitorState::Degraded) {
        ComponentStatus::DegradedPerformance
    } else {
        ComponentStatus::Operational
    })
}

/// The components each monitor feeds.
fn components_of(settings: &StatusSettings) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for c in &settings.components {
        for m in &c.monitors {
            map.entry(m.clone()).or_default().push(c.id.clone());
        }
    }
    map
}

/// How long after its last sample a monitor's open interval is still trusted on restart.
fn freshness(spec: &MonitorSpec) -> time::Duration {
    let interval = match &spec.check {
        Check::Heartbeat(h) => h.period + h.grace,
        _ => spec.interval,
    };
    time::Duration::try_from(interval * 2 + spec.timeout).unwrap_or(time::Duration::HOUR)
}

struct Heartbeat {
    monitor_id: String,
    token: TokenHash,
    tracker: HeartbeatTracker,
    interval: Duration,
    next_due: OffsetDateTime,
}

/// The handle the web layer and `serve` hold.
pub struct Monitoring {
    sender: mpsc::Sender<Sample>,
    control: mpsc::Sender<StatusSettings>,
    heartbeats: Mutex<Vec<Heartbeat>>,
    clock: Arc<dyn Clock>,
    /// The push tokens of the heartbeat monitors of `candor.toml` (read from, or generated into,
    /// their files; more are added when a reload declares new ones).
    config_tokens: Mutex<Vec<(String, TokenHash)>>,
    data_dir: std::path::PathBuf,
    scheduler: std::sync::OnceLock<std::sync::Weak<candor_probe::Scheduler>>,
    /// Held while the monitor set changes, so concurrent changes apply one after the other.
    pub changing: tokio::sync::Mutex<()>,
}

impl Monitoring {
    /// Gives the handle the scheduler that runs the probes, so monitor changes reach it.
    pub fn attach_scheduler(&self, scheduler: &Arc<candor_probe::Scheduler>) {
        let _ = self.scheduler.set(Arc::downgrade(scheduler));
    }

    /// Runs a new monitor set: `settings` is the whole status configuration with the monitors
    /// (and the components' monitor lists) to run from now on; `api_tokens` the push-token
    /// hashes of heartbeat monitors made through the API. Monitors that stay keep their state,
    /// phase and heartbeat history; removed ones stop and their open interval is closed.
    pub async fn apply(&self, settings: StatusSettings, api_tokens: &[(String, TokenHash)]) {
        let now = self.clock.now();
        let mut tokens: Vec<(String, TokenHash)> = api_tokens.to_vec();
        if let Ok(mut known) = self.config_tokens.lock() {
            // Heartbeat monitors a reload of candor.toml added get their token files now.
            let new: Vec<MonitorSpec> = settings
                .monitors
                .iter()
                .filter(|m| matches!(m.check, Check::Heartbeat(_)))
                .filter(|m| {
                    !api_tokens
                        .iter()
                        .chain(known.iter())
                        .any(|(id, _)| *id == m.id)
                })
                .cloned()
                .collect();
            match heartbeat_tokens(&new, &self.data_dir) {
                Ok(mut more) => known.append(&mut more),
                Err(err) => {
                    tracing::error!(error = %err, "a heartbeat monitor's push token cannot be read")
                }
            }
            tokens.extend(known.iter().cloned());
        }
        if let Ok(mut beats) = self.heartbeats.lock() {
            let mut next = Vec::new();
            for spec in &settings.monitors {
                let Check::Heartbeat(h) = &spec.check else {
                    continue;
                };
                let Some((_, hash)) = tokens.iter().find(|(id, _)| *id == spec.id) else {
                    continue;
                };
                let interval = spec.interval.min(Duration::from_secs(60));
                let kept = beats
                    .iter()
                    .position(|b| b.monitor_id == spec.id && b.token == *hash)
                    .map(|i| beats.swap_remove(i));
                next.push(match kept {
                    Some(mut beat) if beat.tracker.period() == (h.period, h.grace) => {
                        beat.interval = interval;
                        beat
                    }
                    _ => Heartbeat {
                        monitor_id: spec.id.clone(),
                        token: hash.clone(),
                        tracker: HeartbeatTracker::new(h.period, h.grace),
                        interval,
                        next_due: now + h.period + h.grace,
                    },
                });
            }
            *beats = next;
        }
        if let Some(scheduler) = self.scheduler.get().and_then(std::sync::Weak::upgrade) {
            scheduler.replace(settings.monitors.clone());
        }
        if self.control.send(settings).await.is_err() {
            tracing::error!("the monitoring engine has stopped; the monitor change is not applied");
        }
    }

    /// Where probes send samples.
    pub fn sender(&self) -> mpsc::Sender<Sample> {
        self.sender.clone()
    }

    /// A ping on a heartbeat push URL. Returns the monitor's id, or None for an unknown token
    /// (compared in constant time against every heartbeat's hash).
    pub fn ping(&self, token: &str, kind: PingKind) -> Option<String> {
        let now = self.clock.now();
        let mut hit = None;
        if let Ok(mut beats) = self.heartbeats.lock() {
            for beat in beats.iter_mut() {
                if beat.token.verify(token) && hit.is_none() {
                    beat.tracker.ping(kind, now);
                    hit = Some((beat.monitor_id.clone(), beat.tracker.evaluate(now)));
                }
            }
        }
        let (id, status) = hit?;
        // A success or failure is a sample at once; a start only opens a run.
        if kind != PingKind::Start
            && let Some(outcome) = status.outcome()
        {
            let _ = self.sender.try_send(Sample {
                monitor_id: id.clone(),
                started_at: now,
                outcome,
                latency_ms: 0,
                error: (outcome == Outcome::Down).then(|| "the job reported a failure".to_owned()),
                conditions: Vec::new(),
            });
        }
        Some(id)
    }

    /// Turns heartbeat silence into samples: each heartbeat monitor is judged once per interval.
    fn judge_heartbeats(&self) {
        let now = self.clock.now();
        let mut due = Vec::new();
        if let Ok(mut beats) = self.heartbeats.lock() {
            for beat in beats.iter_mut() {
                if now < beat.next_due {
                    continue;
                }
                beat.next_due = now + beat.interval;
                if let Some(outcome) = beat.tracker.evaluate(now).outcome() {
                    due.push(Sample {
                        monitor_id: beat.monitor_id.clone(),
                        started_at: now,
                        outcome,
                        latency_ms: 0,
                        error: (outcome == Outcome::Down)
                            .then(|| "no ping within the period and grace time".to_owned()),
                        conditions: Vec::new(),
                    });
                }
            }
        }
        for sample in due {
            let _ = self.sender.try_send(sample);
        }
    }
}

/// Reads (or creates, mode 0600) the push token of every heartbeat monitor and returns the
/// hashes. Generated tokens live in `<data_dir>/heartbeats/<id>.token`.
pub fn heartbeat_tokens(
    specs: &[MonitorSpec],
    data_dir: &std::path::Path,
) -> Result<Vec<(String, TokenHash)>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let Check::Heartbeat(h) = &spec.check else {
            continue;
        };
        let path = match &h.token_file {
            Some(p) => p.clone(),
            None => data_dir
                .join("heartbeats")
                .join(format!("{}.token", spec.id)),
        };
        let token = if path.exists() || h.token_file.is_some() {
            candor_probe::PushToken::from_file(&path)
                .map_err(|e| format!("monitor {}: {e}", spec.id))?
        } else {
            let token = candor_probe::PushToken::generate()
                .map_err(|e| format!("monitor {}: {e}", spec.id))?;
            write_secret(&path, token.expose()).map_err(|e| {
                format!("monitor {}: cannot write {}: {e}", spec.id, path.display())
            })?;
            tracing::info!(monitor = %spec.id, file = %path.display(), "generated the heartbeat push token; the push URL is /api/v1/heartbeats/<token>");
            token
        };
        out.push((spec.id.clone(), token.hash()));
    }
    Ok(out)
}

fn write_secret(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(value.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// What the engine calls when the public status changed.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// Starts the engine. Returns the handle; the task runs until the process ends. `api_tokens`
/// are the push-token hashes of heartbeat monitors made through the API (the others' tokens
/// are read from, or generated into, their files).
pub async fn start<S>(
    store: S,
    settings: StatusSettings,
    api_tokens: Vec<(String, TokenHash)>,
    data_dir: &std::path::Path,
    clock: Arc<dyn Clock>,
    on_change: OnChange,
    wake_log: Arc<dyn Fn() + Send + Sync>,
) -> Result<Arc<Monitoring>, String>
where
    S: StatusStore + LogStore + Clone + Send + Sync + 'static,
{
    let from_files: Vec<MonitorSpec> = settings
        .monitors
        .iter()
        .filter(|m| !api_tokens.iter().any(|(id, _)| *id == m.id))
        .cloned()
        .collect();
    let tokens = heartbeat_tokens(&from_files, data_dir)?;
    let now = clock.now();
    let heartbeats = settings
        .monitors
        .iter()
        .filter_map(|spec| match &spec.check {
            Check::Heartbeat(h) => tokens
                .iter()
                .chain(&api_tokens)
                .find(|(id, _)| *id == spec.id)
                .map(|(_, hash)| Heartbeat {
                    monitor_id: spec.id.clone(),
                    token: hash.clone(),
                    tracker: HeartbeatTracker::new(h.period, h.grace),
                    interval: spec.interval.min(Duration::from_secs(60)),
                    next_due: now + h.period + h.grace,
                }),
            _ => None,
        })
        .collect();
    let (sender, receiver) = mpsc::channel(65_536);
    let (control, controls) = mpsc::channel(16);
    let monitoring = Arc::new(Monitoring {
        sender,
        control,
        heartbeats: Mutex::new(heartbeats),
        clock: clock.clone(),
        config_tokens: Mutex::new(tokens),
        data_dir: data_dir.to_path_buf(),
        scheduler: std::sync::OnceLock::new(),
        changing: tokio::sync::Mutex::new(()),
    });
    let mut engine = Engine::new(store, settings, clock, on_change, wake_log);
    engine
        .resume()
        .await
        .map_err(|e| format!("resuming monitor state: {e}"))?;
    let handle = monitoring.clone();
    tokio::spawn(async move { engine.run(receiver, controls, handle).await });
    Ok(monitoring)
}

struct Engine<S> {
    store: S,
    settings: StatusSettings,
    clock: Arc<dyn Clock>,
    on_change: OnChange,
    wake_log: Arc<dyn Fn() + Send + Sync>,
    machines: HashMap<String, StateMachine>,
    components: HashMap<String, ComponentStatus>,
    /// Unresolved incidents the engine opened, per component.
    auto_incidents: HashMap<String, String>,
    buffer: Vec<SampleRecord>,
    changes: Vec<(Subject, ComponentStatus, OffsetDateTime)>,
    opened: Vec<(String, ComponentStatus, OffsetDateTime)>,
    recovered: Vec<(String, OffsetDateTime)>,
    /// Samples waiting for their digest window to close, by window start.
    undigested: BTreeMap<i64, Vec<SampleRecord>>,
    maintenance: Vec<Maintenance>,
    /// The latest month boundary open intervals were split at.
    split_until: OffsetDateTime,
    /// When each subject's open interval began (as far as this process knows).
    last_change: HashMap<Subject, OffsetDateTime>,
    /// The components each monitor feeds.
    components_of: HashMap<String, Vec<String>>,
}

impl<S> Engine<S>
where
    S: StatusStore + LogStore + Clone + Send + Sync + 'static,
{
    fn new(
        store: S,
        settings: StatusSettings,
        clock: Arc<dyn Clock>,
        on_change: OnChange,
        wake_log: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let machines = settings
            .monitors
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    StateMachine::new(m.id.clone(), m.failure_threshold, m.success_threshold),
                )
            })
            .collect();
        let components_of = components_of(&settings);
        let now = clock.now();
        let split_until = month_boundary(&settings, now);
        Engine {
            store,
            settings,
            clock,
            on_change,
            wake_log,
            machines,
            components: HashMap::new(),
            auto_incidents: HashMap::new(),
            buffer: Vec::new(),
            changes: Vec::new(),
            opened: Vec::new(),
            recovered: Vec::new(),
            undigested: BTreeMap::new(),
            maintenance: Vec::new(),
            split_until,
            last_change: HashMap::new(),
            components_of,
        }
    }

    fn spec(&self, id: &str) -> Option<&MonitorSpec> {
        self.settings.monitors.iter().find(|m| m.id == id)
    }

    /// Resumes from the open intervals (see the module docs).
    async fn resume(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let opens = self.store.open_intervals().await?;
        self.resume_digests(&opens).await?;
        for open in opens {
            let fresh_for = match &open.subject {
                Subject::Monitor(id) => self.spec(id).map(freshness),
                Subject::Component(id) => self.settings.component(id).map(|c| {
                    c.monitors
                        .iter()
                        .filter_map(|m| self.spec(m).map(freshness))
                        .max()
                        .unwrap_or(time::Duration::ZERO)
                }),
            };
            let stale = match fresh_for {
                Some(limit) => now - open.last_seen > limit,
                None => true, // no longer declared
            };
            if stale {
                self.store
                    .close_interval(&open.subject, open.last_seen)
                    .await?;
                continue;
            }
            // An interval still open from an earlier month is split at the first flush, so
            // that month's intervals reach the log before its report closes.
            self.last_change.insert(open.subject.clone(), open.start);
            self.split_until = self.split_until.min(open.start);
            match &open.subject {
                Subject::Monitor(id) => {
                    if let Some(spec) = self.spec(id) {
                        let machine = StateMachine::resume(
                            id.clone(),
                            spec.failure_threshold,
                            spec.success_threshold,
                            state_of(open.status),
                        );
                        self.machines.insert(id.clone(), machine);
                    }
                }
                Subject::Component(id) => {
                    self.components.insert(id.clone(), open.status);
                }
            }
        }
        let open = self
            .store
            .incidents(&IncidentFilter {
                include_drafts: true,
                unresolved_only: true,
                ..IncidentFilter::default()
            })
            .await?;
        for incident in open {
            if incident.origin == IncidentOrigin::Monitor {
                for c in &incident.components {
                    self.auto_incidents
                        .insert(c.component_id.clone(), incident.id.clone());
                }
            }
        }
        self.refresh_maintenance().await;
        Ok(())
    }

    /// Samples stored in the last minutes before the previous run stopped may not have been
    /// committed to a digest yet (a window is digested a little after it closes). They are read
    /// back and digested again: windows whose digest was already committed are found by their
    /// idempotency key and not recorded twice, so every acknowledged sample reaches the log.
    async fn resume_digests(&mut self, opens: &[StatusInterval]) -> Result<(), StoreError> {
        // The last data of the previous run: every flush confirms the open intervals.
        let Some(last) = opens
            .iter()
            .filter(|o| o.subject.kind() == "monitor")
            .map(|o| o.last_seen)
            .max()
        else {
            return Ok(());
        };
        let from = last - time::Duration::minutes(RESUMED_DIGEST_MINUTES);
        let until = last + time::Duration::SECOND;
        for sample in self.store.samples_between(from, until).await? {
            let window = sample.at.unix_timestamp().div_euclid(DIGEST_WINDOW_SECONDS);
            self.undigested.entry(window).or_default().push(sample);
        }
        Ok(())
    }

    async fn refresh_maintenance(&mut self) {
        let now = self.clock.now();
        match self
            .store
            .maintenances(now - time::Duration::DAY, now + time::Duration::DAY)
            .await
        {
            Ok(list) => self.maintenance = list,
            Err(err) => tracing::warn!(error = %err, "reading maintenance windows failed"),
        }
    }

    fn in_maintenance(&self, monitor_id: &str, at: OffsetDateTime) -> bool {
        self.maintenance.iter().any(|m| {
            at >= m.scheduled_for
                && at < m.effective_end()
                && m.components.iter().any(|cid| {
                    self.settings
                        .component(cid)
                        .is_some_and(|c| c.monitors.iter().any(|id| id == monitor_id))
                })
        })
    }

    async fn run(
        mut self,
        mut receiver: mpsc::Receiver<Sample>,
        mut controls: mpsc::Receiver<StatusSettings>,
        handle: Arc<Monitoring>,
    ) {
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(Duration::from_secs(600));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut maintenance = tokio::time::interval(Duration::from_secs(15));
        loop {
            tokio::select! {
                sample = receiver.recv() => match sample {
                    Some(sample) => self.observe(sample),
                    None => { self.flush().await; return; }
                },
                _ = flush.tick() => {
                    handle.judge_heartbeats();
                    self.flush().await;
                }
                Some(settings) = controls.recv() => {
                    self.replace(settings).await;
                    self.flush().await;
                }
                _ = maintenance.tick() => self.refresh_maintenance().await,
                _ = housekeeping.tick() => self.housekeeping().await,
            }
        }
    }

    fn observe(&mut self, sample: Sample) {
        let Some(machine) = self.machines.get_mut(&sample.monitor_id) else {
            return; // a monitor removed by a reload
        };
        let transition = machine.observe(&sample);
        let outcome = match sample.outcome {
            Outcome::Up => SampleOutcome::Up,
            Outcome::Degraded => SampleOutcome::Degraded,
            Outcome::Down => SampleOutcome::Down,
        };
        let record = SampleRecord {
            monitor_id: sample.monitor_id.clone(),
            at: sample.started_at,
            outcome,
            latency_ms: u32::try_from(sample.latency_ms).unwrap_or(u32::MAX),
            in_maintenance: self.in_maintenance(&sample.monitor_id, sample.started_at),
            error: sample.error,
        };
        self.buffer.push(record);
        let Some(t) = transition else { return };
        if let Some(status) = status_of(t.to) {
            self.changes
                .push((Subject::Monitor(t.monitor_id.clone()), status, t.at));
        }
        // Components fed by this monitor.
        let affected = self.components_of.get(&t.monitor_id).cloned();
        for component_id in affected.unwrap_or_default() {
            self.rederive(&component_id, t.at);
        }
    }

    /// Derives a component's status from its monitors' states and queues the change (and an
    /// incident to open or resolve) when it differs from the current one.
    fn rederive(&mut self, component_id: &str, at: OffsetDateTime) {
        let Some(component) = self.settings.component(component_id) else {
            return;
        };
        let states: Vec<MonitorState> = component
            .monitors
            .iter()
            .map(|m| {
                self.machines
                    .get(m)
                    .map_or(MonitorState::Unknown, StateMachine::state)
            })
            .collect();
        let Some(status) = component_status_from(&states) else {
            return;
        };
        let before = self.components.get(component_id).copied();
        if before == Some(status) {
            return;
        }
        self.components.insert(component_id.to_owned(), status);
        self.changes
            .push((Subject::Component(component_id.to_owned()), status, at));
        let was_down =
            before.is_some_and(|b| b.severity() >= ComponentStatus::PartialOutage.severity());
        let is_down = status.severity() >= ComponentStatus::PartialOutage.severity();
        if is_down && !was_down {
            self.opened.push((component_id.to_owned(), status, at));
        } else if was_down && !is_down {
            self.recovered.push((component_id.to_owned(), at));
        }
    }

    /// Switches to a new monitor set (see [`Monitoring::apply`]).
    async fn replace(&mut self, settings: StatusSettings) {
        let now = self.clock.now();
        let mut machines = HashMap::with_capacity(settings.monitors.len());
        for spec in &settings.monitors {
            let machine = match self.machines.remove(&spec.id) {
                Some(old)
                    if old.thresholds() == (spec.failure_threshold, spec.success_threshold) =>
                {
                    old
                }
                Some(old) if old.state() != MonitorState::Unknown => StateMachine::resume(
                    spec.id.clone(),
                    spec.failure_threshold,
                    spec.success_threshold,
                    old.state(),
                ),
                _ => StateMachine::new(
                    spec.id.clone(),
                    spec.failure_threshold,
                    spec.success_threshold,
                ),
            };
            machines.insert(spec.id.clone(), machine);
        }
        // Monitors left over ran before and run no more, and components no longer declared have
        // no status any more: their current interval ends now.
        let mut ended: Vec<Subject> = std::mem::take(&mut self.machines)
            .into_keys()
            .map(Subject::Monitor)
            .collect();
        self.components.retain(|id, _| {
            let declared = settings.component(id).is_some();
            if !declared {
                ended.push(Subject::Component(id.clone()));
            }
            declared
        });
        for subject in ended {
            if let Err(err) = self.store.close_interval(&subject, now).await {
                tracing::error!(subject = %subject, error = %err, "closing the status of a removed monitor or component failed");
            }
            self.last_change.remove(&subject);
        }
        self.machines = machines;
        self.components_of = components_of(&settings);
        self.settings = settings;
        let ids: Vec<String> = self
            .settings
            .components
            .iter()
            .map(|c| c.id.clone())
            .collect();
        for id in ids {
            self.rederive(&id, now);
        }
        self.refresh_maintenance().await;
    }

    async fn flush(&mut self) {
        let now = self.clock.now();
        let mut changed = false;
        if !self.buffer.is_empty() {
            let batch = std::mem::take(&mut self.buffer);
            if let Err(err) = self.store.record_samples(&batch).await {
                tracing::error!(error = %err, samples = batch.len(), "storing samples failed; will retry");
                let mut rest = std::mem::take(&mut self.buffer);
                self.buffer = batch;
                self.buffer.append(&mut rest);
                return;
            }
            let mut seen: std::collections::BTreeSet<Subject> = std::collections::BTreeSet::new();
            for s in &batch {
                let window = s.at.unix_timestamp().div_euclid(DIGEST_WINDOW_SECONDS);
                self.undigested.entry(window).or_default().push(s.clone());
                seen.insert(Subject::Monitor(s.monitor_id.clone()));
                if let Some(components) = self.components_of.get(&s.monitor_id) {
                    seen.extend(components.iter().cloned().map(Subject::Component));
                }
            }
            let seen: Vec<Subject> = seen.into_iter().collect();
            if let Err(err) = self.store.touch_intervals(&seen, now).await {
                tracing::warn!(error = %err, "confirming open intervals failed");
            }
        }
        // Transitions are applied after their samples are stored, in order (a change of the
        // monitor set queues some without samples).
        for (subject, status, at) in std::mem::take(&mut self.changes) {
            // A retroactive start never reaches back before the subject's open interval
            // (e.g. one split at a month boundary after the failing run began).
            let at = self
                .last_change
                .get(&subject)
                .map_or(at, |last| at.max(*last));
            if let Err(err) = self.store.change_status(&subject, status, at).await {
                tracing::error!(subject = %subject, error = %err, "recording a status change failed");
            }
            self.last_change.insert(subject, at);
            changed = true;
        }
        for (component_id, status, at) in std::mem::take(&mut self.opened) {
            self.open_incident(&component_id, status, at).await;
            changed = true;
        }
        for (component_id, at) in std::mem::take(&mut self.recovered) {
            self.close_incident(&component_id, at).await;
            changed = true;
        }
        self.split_at_boundary(now).await;
        self.digest(now).await;
        if changed {
            (self.on_change)();
            (self.wake_log)();
        }
    }

    async fn open_incident(
        &mut self,
        component_id: &str,
        status: ComponentStatus,
        at: OffsetDateTime,
    ) {
        let Some(component) = self.settings.component(component_id).cloned() else {
            return;
        };
        if component.incident_policy == IncidentPolicy::Off
            || self.auto_incidents.contains_key(component_id)
        {
            return;
        }
        let impact = if status == ComponentStatus::MajorOutage {
            IncidentImpact::Critical
        } else {
            IncidentImpact::Major
        };
        let new = NewIncident {
            name: format!("{}: {}", component.name, status.label().to_lowercase()),
            impact,
            status: IncidentStatus::Investigating,
            body: format!(
                "Our monitors report {} for {} since {}. We are investigating.",
                status.label().to_lowercase(),
                component.name,
                timestamp(at)
            ),
            components: vec![AffectedComponent {
                component_id: component_id.to_owned(),
                status,
                users_affected: None,
            }],
            origin: IncidentOrigin::Monitor,
            draft: component.incident_policy == IncidentPolicy::Draft,
            started_at: at,
            resolved_at: None,
        };
        let key = format!("monitor-incident:{component_id}:{}", timestamp(at));
        match self
            .store
            .create_incident(&new, self.clock.now(), Some(&key))
            .await
        {
            Ok((incident, _)) => {
                tracing::info!(component = component_id, incident = %incident.id, draft = incident.draft, "incident opened by monitors");
                self.auto_incidents
                    .insert(component_id.to_owned(), incident.id);
            }
            Err(err) => {
                tracing::error!(component = component_id, error = %err, "opening an incident failed")
            }
        }
    }

    async fn close_incident(&mut self, component_id: &str, at: OffsetDateTime) {
        let Some(id) = self.auto_incidents.remove(component_id) else {
            return;
        };
        let update = NewIncidentUpdate {
            status: IncidentStatus::Resolved,
            body: "Our monitors report the component operational again.".to_owned(),
            components: vec![AffectedComponent {
                component_id: component_id.to_owned(),
                status: ComponentStatus::Operational,
                users_affected: None,
            }],
            display_at: at,
        };
        let key = format!("monitor-resolve:{id}");
        match self
            .store
            .update_incident(&id, &update, self.clock.now(), Some(&key))
            .await
        {
            Ok(_) => {}
            // An operator may already have closed it.
            Err(StoreError::NotFound(_) | StoreError::Invalid(_)) => {}
            Err(err) => {
                tracing::error!(incident = %id, error = %err, "resolving an incident failed")
            }
        }
    }

    /// Closes and reopens every open interval at a month boundary (in UTC or a policy's time
    /// zone), so each period's intervals are complete in the log when it closes.
    async fn split_at_boundary(&mut self, now: OffsetDateTime) {
        let boundary = month_boundary(&self.settings, now);
        if boundary <= self.split_until {
            return;
        }
        match self.store.open_intervals().await {
            Ok(open) => {
                for i in open.into_iter().filter(|i| i.start < boundary) {
                    self.last_change.insert(i.subject.clone(), boundary);
                    if let Err(err) = self
                        .store
                        .change_status(&i.subject, i.status, boundary)
                        .await
                    {
                        tracing::error!(subject = %i.subject, error = %err, "splitting an interval at the month boundary failed");
                        return;
                    }
                }
                self.split_until = boundary;
            }
            Err(err) => tracing::error!(error = %err, "reading open intervals failed"),
        }
    }

    /// Commits each closed minute of samples (sorted by time, then monitor) as a
    /// `digest.batch` entry; `/api/v1/samples?from=&to=` returns the same items.
    async fn digest(&mut self, now: OffsetDateTime) {
        let lag = self
            .settings
            .monitors
            .iter()
            .map(|m| m.timeout)
            .max()
            .unwrap_or(Duration::ZERO)
            .as_secs() as i64
            + 5;
        let ready: Vec<i64> = self
            .undigested
            .keys()
            .copied()
            .filter(|w| (w + 1) * DIGEST_WINDOW_SECONDS + lag < now.unix_timestamp())
            .collect();
        for window in ready {
            let Some(mut samples) = self.undigested.remove(&window) else {
                continue;
            };
            sort_for_digest(&mut samples);
            let items: Vec<Vec<u8>> = samples.iter().filter_map(|s| sample_item(s).ok()).collect();
            let root = hex::encode(items_root(&items));
            let from =
                OffsetDateTime::from_unix_timestamp(window * DIGEST_WINDOW_SECONDS).unwrap_or(now);
            let to = from + time::Duration::seconds(DIGEST_WINDOW_SECONDS);
            let Ok(entry) = digest_batch(SAMPLE_STREAM, from, to, items.len() as u64, &root) else {
                continue;
            };
            let key = format!("digest:{SAMPLE_STREAM}:{}", timestamp(from));
            if let Err(err) = self.store.append_entry(&entry, now, Some(&key)).await {
                tracing::error!(error = %err, "committing a sample digest failed; will retry");
                self.undigested.insert(window, samples);
                return;
            }
            (self.wake_log)();
        }
    }

    async fn housekeeping(&mut self) {
        let now = self.clock.now();
        let samples_before =
            now - time::Duration::days(i64::from(self.settings.sample_retention_days));
        let minutes_before =
            now - time::Duration::days(i64::from(self.settings.minute_rollup_retention_days));
        match self.store.prune(samples_before, minutes_before).await {
            Ok(p) if p.samples > 0 || p.minute_rollups > 0 => {
                tracing::info!(
                    samples = p.samples,
                    minute_rollups = p.minute_rollups,
                    "pruned history past its retention"
                )
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "pruning history failed"),
        }
        if let Err(err) = close_reports(&self.store, &self.settings, now).await {
            tracing::warn!(error = %err, "closing SLA reports failed");
        }
        (self.wake_log)();
    }
}

/// The latest month start at or before `now`, in UTC or any SLA policy's time zone: the
/// boundary open intervals are split at, so a period cut in, say, America/New_York (which ends
/// after the UTC month) or Europe/Berlin (before it) has its intervals in the log when it
/// closes.
fn month_boundary(settings: &StatusSettings, now: OffsetDateTime) -> OffsetDateTime {
    let utc = candor_core::sla::Zone::utc();
    std::iter::once(utc)
        .chain(settings.sla.iter().filter_map(|p| p.zone().ok()))
        .filter_map(|z| z.start_of_month(now))
        .filter(|b| *b <= now)
        .max()
        .unwrap_or(now)
}

/// The order samples are committed in: by start time, then monitor id.
pub fn sort_for_digest(samples: &mut [SampleRecord]) {
    samples.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.monitor_id.cmp(&b.monitor_id))
    });
}

/// The period label of the period containing `at` (`2026-10` or `2026-Q4`), and of the one
/// before it.
fn previous_periods(
    kind: candor_core::status::SlaPeriodKind,
    now: OffsetDateTime,
    count: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let (mut year, mut month) = (now.year(), u8::from(now.month()));
    match kind {
        candor_core::status::SlaPeriodKind::Month => {
            for _ in 0..count {
                if month == 1 {
                    year -= 1;
                    month = 12;
                } else {
                    month -= 1;
                }
                out.push(format!("{year}-{month:02}"));
            }
        }
        candor_core::status::SlaPeriodKind::Quarter => {
            let mut q = (month - 1) / 3 + 1;
            for _ in 0..count {
                if q == 1 {
                    year -= 1;
                    q = 4;
                } else {
                    q -= 1;
                }
                out.push(format!("{year}-Q{q}"));
            }
        }
    }
    out
}

/// Loads what a component's report needs and computes it (see [`load_reports`]).
pub async fn load_report<S: StatusStore>(
    store: &S,
    settings: &StatusSettings,
    component_id: &str,
    period_label: &str,
    now: OffsetDateTime,
) -> Result<ComponentReport, String> {
    let mut reports = load_reports(store, settings, &[component_id], period_label, now).await?;
    reports
        .pop()
        .ok_or_else(|| format!("no report for \"{component_id}\""))
}

/// The reports of several components for one period label, in the order given. The store is
/// read once per distinct calendar range (components whose policies cut the period in the same
/// time zone share it): every component's intervals in one query, the published incidents and
/// the maintenance windows in one each, so a page of 1,000 components costs three queries, not
/// three thousand.
pub async fn load_reports<S: StatusStore>(
    store: &S,
    settings: &StatusSettings,
    component_ids: &[&str],
    period_label: &str,
    now: OffsetDateTime,
) -> Result<Vec<ComponentReport>, String> {
    let err = |e: StoreError| e.to_string();
    let mut planned = Vec::with_capacity(component_ids.len());
    for id in component_ids {
        if settings.component(id).is_none() {
            let known: Vec<&str> = settings.components.iter().map(|c| c.id.as_str()).collect();
            return Err(format!(
                "unknown component \"{id}\"; declared components: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        let spec = settings.policy_for(id);
        let period = candor_core::sla::Period::parse_in(period_label, &spec.zone()?)?;
        planned.push((*id, spec, period));
    }
    type Loaded = (
        HashMap<String, Vec<StatusInterval>>,
        Vec<candor_core::status::Incident>,
        Vec<Maintenance>,
    );
    let mut ranges: HashMap<(OffsetDateTime, OffsetDateTime), Loaded> = HashMap::new();
    for (_, _, period) in &planned {
        let key = (period.start, period.end);
        if ranges.contains_key(&key) {
            continue;
        }
        let mut by_component: HashMap<String, Vec<StatusInterval>> = HashMap::new();
        for interval in store
            .intervals_of_kind("component", period.start, period.end)
            .await
            .map_err(err)?
        {
            by_component
                .entry(interval.subject.id().to_owned())
                .or_default()
                .push(interval);
        }
        let incidents = store
            .incidents(&IncidentFilter {
                include_drafts: false,
                unresolved_only: false,
                since: Some(period.start),
                until: Some(period.end),
                limit: None,
            })
            .await
            .map_err(err)?;
        let maintenances = store
            .maintenances(period.start, period.end)
            .await
            .map_err(err)?;
        ranges.insert(key, (by_component, incidents, maintenances));
    }
    let mut out = Vec::with_capacity(planned.len());
    for (id, spec, period) in planned {
        let Some((by_component, incidents, maintenances)) = ranges.get(&(period.start, period.end))
        else {
            continue;
        };
        out.push(component_report(
            &spec,
            id,
            period_label,
            &Records {
                intervals: by_component.get(id).map_or(&[], Vec::as_slice),
                incidents,
                maintenances,
            },
            now,
        )?);
    }
    Ok(out)
}

/// Records the report of each component's last closed periods, and an amendment (naming the
/// report it replaces) when a recomputation differs from what was recorded — e.g. after an
/// incident was back-filled into a closed month. Returns how many reports were recorded.
pub async fn close_reports<S: StatusStore>(
    store: &S,
    settings: &StatusSettings,
    now: OffsetDateTime,
) -> Result<usize, String> {
    let mut recorded = 0;
    // The periods to look at, each with the components whose policy has it.
    let mut periods: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for component in &settings.components {
        let spec = settings.policy_for(&component.id);
        for period in previous_periods(spec.period, now, 3) {
            periods
                .entry(period)
                .or_default()
                .push(component.id.as_str());
        }
    }
    for (period, ids) in &periods {
        for report in load_reports(store, settings, ids, period, now).await? {
            if !report.complete {
                continue;
            }
            let component_id = report.component_id.as_str();
            let existing = store
                .sla_reports(component_id, period)
                .await
                .map_err(|e| e.to_string())?;
            // Nothing to say about a period before anything was recorded.
            if existing.is_empty()
                && report.report.covered_seconds == 0
                && report.incidents.is_empty()
            {
                continue;
            }
            let json = candor_core::canonical::to_canonical_json(&report.to_json())
                .map_err(|e| e.to_string())?;
            let json = String::from_utf8(json).map_err(|e| e.to_string())?;
            let amends = match existing.last() {
                Some(last) if last.report_json == json => continue,
                Some(last) => Some(last.log_index),
                None => None,
            };
            store
                .record_sla_report(component_id, period, &json, amends, now)
                .await
                .map_err(|e| e.to_string())?;
            recorded += 1;
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_status_follows_its_monitors() {
        use MonitorState::*;
        assert_eq!(component_status_from(&[Unknown]), None);
        assert_eq!(
            component_status_from(&[Up, Unknown]),
            Some(ComponentStatus::Operational)
        );
        assert_eq!(
            component_status_from(&[Up, Down]),
            Some(ComponentStatus::PartialOutage)
        );
        assert_eq!(
            component_status_from(&[Down, Down]),
            Some(ComponentStatus::MajorOutage)
        );
        assert_eq!(
            component_status_from(&[Up, Degraded]),
            Some(ComponentStatus::DegradedPerformance)
        );
    }

    #[test]
    fn intervals_are_split_at_the_month_start_of_utc_and_every_policy_zone() {
        use time::macros::datetime;
        let zoned = |zones: &[&str]| StatusSettings {
            sla: zones
                .iter()
                .map(|z| candor_core::status::SlaPolicySpec {
                    id: (*z).to_lowercase().replace('/', "-"),
                    time_zone: Some((*z).to_owned()),
                    ..StatusSettings::default().policy_for("api")
                })
                .collect(),
            ..StatusSettings::default()
        };
        let utc_only = StatusSettings::default();
        assert_eq!(
            month_boundary(&utc_only, datetime!(2026-10-31 23:30 UTC)),
            datetime!(2026-10-01 00:00 UTC)
        );
        // Berlin's November starts an hour before UTC's; New York's four hours after it.
        let both = zoned(&["Europe/Berlin", "America/New_York"]);
        assert_eq!(
            month_boundary(&both, datetime!(2026-10-31 23:30 UTC)),
            datetime!(2026-10-31 23:00 UTC)
        );
        assert_eq!(
            month_boundary(&both, datetime!(2026-11-01 02:00 UTC)),
            datetime!(2026-11-01 00:00 UTC)
        );
        assert_eq!(
            month_boundary(&both, datetime!(2026-11-01 04:30 UTC)),
            datetime!(2026-11-01 04:00 UTC)
        );
    }

    #[test]
    fn previous_periods_walk_back_across_years() {
        let now = time::macros::datetime!(2026-01-15 00:00 UTC);
        assert_eq!(
            previous_periods(candor_core::status::SlaPeriodKind::Month, now, 2),
            vec!["2025-12", "2025-11"]
        );
        assert_eq!(
            previous_periods(candor_core::status::SlaPeriodKind::Quarter, now, 2),
            vec!["2025-Q4", "2025-Q3"]
        );
    }
}
