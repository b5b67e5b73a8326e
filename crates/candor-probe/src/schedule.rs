//! The scheduler: runs every monitor at a fixed rate, its probes spread over the interval.
//!
//! - Fixed rate: the next run is planned from the schedule (`planned + interval`), not from
//!   when the last probe finished, so probes do not drift later and later.
//! - Each monitor starts at a deterministic offset within its interval (a hash of its id), so
//!   10,000 monitors do not fire at once, and a restart keeps the same phases.
//! - At most `max_in_flight` probes run at once. The planning loop never waits for a probe:
//!   when a monitor's previous probe is still running at its next planned start, that run is
//!   skipped and counted instead of queued.
//! - Schedule slip (actual start − planned start, including waiting for an in-flight slot) is
//!   recorded in a histogram: [`Scheduler::slip_snapshot`].
//! - [`Scheduler::replace`] swaps the monitor set (config reload) keeping the phase of monitors
//!   whose id and interval did not change; dropping the scheduler stops it and every probe.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use candor_core::Clock;
use candor_core::monitor::{MonitorKind, MonitorSpec};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::slip::{SlipHistogram, SlipSnapshot};
use crate::{Prober, Sample};

/// Tuning of the scheduler.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerOptions {
    /// Most probes running at once (default 512).
    pub max_in_flight: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { max_in_flight: 512 }
    }
}

/// Counters the caller can read while the scheduler runs.
#[derive(Debug, Default)]
struct Stats {
    slip: SlipHistogram,
    skipped: AtomicU64,
    started: AtomicU64,
}

/// A running scheduler. Dropping it stops the schedule and aborts probes in flight.
#[derive(Debug)]
pub struct Scheduler {
    control: mpsc::UnboundedSender<Vec<MonitorSpec>>,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One scheduled monitor.
struct Slot {
    spec: Arc<MonitorSpec>,
    in_flight: Arc<AtomicBool>,
}

/// Clears the in-flight flag however the probe task ends (finished or aborted).
struct InFlight(Arc<AtomicBool>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Scheduler {
    /// Starts running `specs` (heartbeat monitors are skipped: they are judged by their pings).
    /// Samples go to `sender`; `clock` dates them. Must be called inside a tokio runtime.
    pub fn spawn(
        specs: Vec<MonitorSpec>,
        sender: mpsc::Sender<Sample>,
        prober: Arc<Prober>,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Scheduler {
        let (control, commands) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(run(
            specs,
            commands,
            sender,
            prober,
            clock,
            options,
            Arc::clone(&stats),
        ));
        Scheduler {
            control,
            stats,
            task,
        }
    }

    /// Replaces the monitor set (after a config reload).
    pub fn replace(&self, specs: Vec<MonitorSpec>) {
        let _ = self.control.send(specs);
    }

    /// Schedule slip so far: p50, p99, max.
    pub fn slip_snapshot(&self) -> SlipSnapshot {
        self.stats.slip.snapshot()
    }

    /// Runs skipped because the monitor's previous probe was still in flight.
    pub fn skipped(&self) -> u64 {
        self.stats.skipped.load(Ordering::Relaxed)
    }

    /// Probes started so far.
    pub fn started(&self) -> u64 {
        self.stats.started.load(Ordering::Relaxed)
    }

    /// Stops the schedule and every probe in flight, and waits until they are gone.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

/// Where in its interval a monitor runs: a stable hash of its id.
pub fn phase(id: &str, interval: Duration) -> Duration {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let micros = u64::try_from(interval.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_micros(u64::from_be_bytes(first) % micros)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    specs: Vec<MonitorSpec>,
    mut commands: mpsc::UnboundedReceiver<Vec<MonitorSpec>>,
    sender: mpsc::Sender<Sample>,
    prober: Arc<Prober>,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
    stats: Arc<Stats>,
) {
    let permits = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let mut probes: JoinSet<()> = JoinSet::new();
    // The heap holds (planned start, generation, slot index); entries of an older generation
    // are stale after a replace and are dropped when they come up.
    let mut heap: BinaryHeap<Reverse<(Instant, u64, usize)>> = BinaryHeap::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut generation = 0u64;
    let mut next_of: HashMap<String, (Duration, Instant)> = HashMap::new();
    load(
        &specs,
        HashMap::new(),
        &mut slots,
        &mut heap,
        &mut next_of,
        generation,
        Instant::now(),
    );

    loop {
        let next = heap.peek().map(|Reverse((at, _, _))| *at);
        tokio::select! {
            () = sleep_until_or_forever(next) => {
                let now = Instant::now();
                while let Some(Reverse((planned, entry_generation, index))) = heap.peek().copied() {
                    if planned > now {
                        break;
                    }
                    heap.pop();
                    if entry_generation != generation {
                        continue;
                    }
                    let Some(slot) = slots.get(index) else { continue };
                    let interval = slot.spec.interval;
                    // Fixed rate: plan from the schedule; if the loop itself fell a whole
                    // interval behind, jump to the next future start rather than bursting.
                    let mut following = planned + interval;
                    while following <= now {
                        following += interval;
                        stats.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    heap.push(Reverse((following, generation, index)));
                    next_of.insert(slot.spec.id.clone(), (interval, following));

                    if slot.in_flight.swap(true, Ordering::AcqRel) {
                        stats.skipped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let guard = InFlight(Arc::clone(&slot.in_flight));
                    let spec = Arc::clone(&slot.spec);
                    let prober = Arc::clone(&prober);
                    let clock = Arc::clone(&clock);
                    let permits = Arc::clone(&permits);
                    let sender = sender.clone();
                    let stats = Arc::clone(&stats);
                    probes.spawn(async move {
                        let _guard = guard;
                        let Ok(_permit) = permits.acquire_owned().await else { return };
                        stats.slip.record(Instant::now().saturating_duration_since(planned));
                        stats.started.fetch_add(1, Ordering::Relaxed);
                        let sample = prober.probe(&spec, clock.now()).await;
                        let _ = sender.send(sample).await;
                    });
                }
            }
            command = commands.recv() => {
                let Some(specs) = command else {
                    // The Scheduler was dropped; its Drop aborts this task too.
                    return;
                };
                generation += 1;
                // A monitor still probing under its old definition is not probed twice.
                let in_flight = slots.drain(..).map(|s| (s.spec.id.clone(), s.in_flight)).collect();
                heap.clear();
                load(&specs, in_flight, &mut slots, &mut heap, &mut next_of, generation, Instant::now());
            }
            Some(_) = probes.join_next(), if !probes.is_empty() => {}
        }
    }
}

fn load(
    specs: &[MonitorSpec],
    old_flags: HashMap<String, Arc<AtomicBool>>,
    slots: &mut Vec<Slot>,
    heap: &mut BinaryHeap<Reverse<(Instant, u64, usize)>>,
    next_of: &mut HashMap<String, (Duration, Instant)>,
    generation: u64,
    now: Instant,
) {
    let mut kept: HashMap<String, (Duration, Instant)> = HashMap::new();
    for spec in specs.iter().filter(|s| s.kind() != MonitorKind::Heartbeat) {
        let first = match next_of.get(&spec.id) {
            // Same monitor, same interval: keep its place in the schedule.
            Some((interval, next)) if *interval == spec.interval => *next,
            _ => now + phase(&spec.id, spec.interval),
        };
        kept.insert(spec.id.clone(), (spec.interval, first));
        let index = slots.len();
        slots.push(Slot {
            spec: Arc::new(spec.clone()),
            in_flight: old_flags
                .get(&spec.id)
                .cloned()
                .unwrap_or_else(|| Arc::new(AtomicBool::new(false))),
        });
        heap.push(Reverse((first, generation, index)));
    }
    *next_of = kept;
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
