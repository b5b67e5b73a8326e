//! The SLA engine's arithmetic: monthly (or quarterly) uptime from status intervals, service
//! credits from tiers. Pure and exact: durations are whole seconds, weights are per mille, and
//! every comparison with a target or tier boundary is done in integers, so 99.9 % exactly owes
//! nothing and one second more of downtime does.
//!
//! - Overlapping intervals never count the same second twice: at each instant the worst impact
//!   present counts, once.
//! - Announced maintenance is taken out of the period (when the policy says so) before anything
//!   else.
//! - Coverage is the share of the remaining period that has data; below the policy's minimum the
//!   report says "insufficient data" instead of inventing availability.
//! - Periods are calendar months or quarters cut in UTC, a fixed offset or a named IANA zone
//!   ([`Zone`]); a named zone's offset is taken at each boundary instant, so a month that
//!   contains a daylight-saving change is an hour longer or shorter.

use std::collections::BTreeMap;

use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// How bad an interval was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Working normally (data, no downtime).
    Operational,
    /// Slower than it should be.
    Degraded,
    /// Partly unavailable.
    Partial,
    /// Unavailable.
    Major,
}

/// Downtime weights, per mille of a second of full downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    /// Major outage (default 1000).
    pub major: u32,
    /// Partial outage (default 300, as Statuspage).
    pub partial: u32,
    /// Degraded performance (default 0).
    pub degraded: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            major: 1000,
            partial: 300,
            degraded: 0,
        }
    }
}

impl Weights {
    fn of(&self, impact: Impact) -> u32 {
        match impact {
            Impact::Operational => 0,
            Impact::Degraded => self.degraded,
            Impact::Partial => self.partial,
            Impact::Major => self.major,
        }
    }
}

/// A service-credit tier: uptime below `below_ppm` (parts per million: 99.9 % = 999,000) owes
/// `credit_percent` of the fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditTier {
    /// The boundary, in parts per million.
    pub below_ppm: u32,
    /// The credit, in percent of the period's fee.
    pub credit_percent: u32,
}

/// An SLA policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The promised uptime, in parts per million (default 999,000 = 99.9 %).
    pub target_ppm: u32,
    /// Downtime weights.
    pub weights: Weights,
    /// Whether announced maintenance is taken out of the period.
    pub exclude_maintenance: bool,
    /// Credit tiers; the largest credit whose boundary the uptime is below applies.
    pub tiers: Vec<CreditTier>,
    /// Below this coverage (parts per million of the period with data) the report says
    /// "insufficient data" (default 900,000 = 90 %).
    pub min_coverage_ppm: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            target_ppm: 999_000,
            weights: Weights::default(),
            exclude_maintenance: true,
            // Microsoft's Online Services tiers.
            tiers: vec![
                CreditTier {
                    below_ppm: 999_000,
                    credit_percent: 25,
                },
                CreditTier {
                    below_ppm: 990_000,
                    credit_percent: 50,
                },
                CreditTier {
                    below_ppm: 950_000,
                    credit_percent: 100,
                },
            ],
            min_coverage_ppm: 900_000,
        }
    }
}

/// A span of time with what was observed during it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Inclusive start.
    pub start: OffsetDateTime,
    /// Exclusive end.
    pub end: OffsetDateTime,
    /// The impact during it.
    pub impact: Impact,
    /// How many users it affected, when an incident declared it; under the user-minute formula
    /// this replaces the impact's weight (users affected / users, at most 1).
    pub users_affected: Option<u64>,
}

/// How downtime is turned into uptime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Formula {
    /// Uptime = (counted seconds − weighted downtime seconds) / counted seconds.
    #[default]
    Time,
    /// Microsoft's Online Services definition: uptime = (user minutes − downtime) / user
    /// minutes, where user minutes = counted minutes × `users` and downtime = Σ minutes × users
    /// affected (intervals without a declared count weigh `users` × their impact's weight).
    UserMinutes {
        /// The component's user count (above 0).
        users: u64,
    },
}

impl Formula {
    /// The spelling in report JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Formula::Time => "time",
            Formula::UserMinutes { .. } => "user_minutes",
        }
    }

    /// The user count, under the user-minute formula.
    pub fn users(self) -> Option<u64> {
        match self {
            Formula::Time => None,
            Formula::UserMinutes { users } => Some(users),
        }
    }
}

/// A calendar period: `[start, end)`, both instants in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant.
    pub start: OffsetDateTime,
    /// First instant after it.
    pub end: OffsetDateTime,
}

impl Period {
    /// `2026-10` (a calendar month) or `2026-Q4` (a quarter), in UTC.
    pub fn parse(text: &str) -> Result<Period, String> {
        Period::parse_at(text, UtcOffset::UTC)
    }

    /// Like [`Period::parse`], with the calendar cut at a fixed offset from UTC.
    pub fn parse_at(text: &str, offset: UtcOffset) -> Result<Period, String> {
        Period::parse_in(text, &Zone::fixed(offset))
    }

    /// Like [`Period::parse`], with the calendar cut in a zone: the period runs from local
    /// midnight on its first day to local midnight on the day after it, each converted with the
    /// offset in force at that instant (so a Berlin October is 745 hours long).
    pub fn parse_in(text: &str, zone: &Zone) -> Result<Period, String> {
        let bad = || {
            format!(
                "\"{text}\" is not a period: use a month like 2026-10 or a quarter like 2026-Q4"
            )
        };
        let (year, rest) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let (first_month, months) = if let Some(q) = rest.strip_prefix(['Q', 'q']) {
            let q: u8 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            ((q - 1) * 3 + 1, 3)
        } else {
            let m: u8 = rest.parse().map_err(|_| bad())?;
            if !(1..=12).contains(&m) || rest.len() != 2 {
                return Err(bad());
            }
            (m, 1)
        };
        let start = month_start(year, first_month, zone).ok_or_else(bad)?;
        let end_month = first_month + months;
        let end = if end_month > 12 {
            month_start(year + 1, end_month - 12, zone)
        } else {
            month_start(year, end_month, zone)
        }
        .ok_or_else(bad)?;
        Ok(Period { start, end })
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> i64 {
        (self.end - self.start).whole_seconds()
    }
}

fn month_start(year: i32, month: u8, zone: &Zone) -> Option<OffsetDateTime> {
    let month = Month::try_from(month).ok()?;
    let date = Date::from_calendar_date(year, month, 1).ok()?;
    zone.start_of_day(date)
}

/// The clock a policy's calendar is cut in: UTC, a fixed offset, or a named IANA zone whose
/// offset may change within a period (daylight saving). The zone database is compiled into the
/// binary, so the same name gives the same periods on every machine running the same build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    rule: ZoneRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ZoneRule {
    Fixed(UtcOffset),
    Named(jiff::tz::TimeZone),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            rule: ZoneRule::Fixed(UtcOffset::UTC),
        }
    }

    /// A fixed offset, named `+01:00` (`UTC` for zero).
    pub fn fixed(offset: UtcOffset) -> Zone {
        if offset == UtcOffset::UTC {
            return Zone::utc();
        }
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        Zone {
            name: format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs()),
            rule: ZoneRule::Fixed(offset),
        }
    }

    /// Parses a policy's time zone: `UTC`, `Z`, a fixed offset such as `+02:00` / `-05:30`, or
    /// an IANA name such as `Europe/Berlin` (matched without regard to case). A fixed offset
    /// keeps its spelling as its name; a named zone takes the database's spelling.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let t = text.trim();
        if t.starts_with(['+', '-']) || t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone {
                name: t.to_owned(),
                rule: ZoneRule::Fixed(parse_offset(t)?),
            });
        }
        let unknown = || {
            format!(
                "\"{t}\" is not a time zone Candor knows: write UTC, a fixed offset such as +01:00, or an IANA zone name such as Europe/Berlin or America/New_York"
            )
        };
        let tz = jiff::tz::TimeZoneDatabase::bundled()
            .get(t)
            .map_err(|_| unknown())?;
        match tz.iana_name() {
            Some(name) if !name.eq_ignore_ascii_case("Etc/Unknown") => Ok(Zone {
                name: name.to_owned(),
                rule: ZoneRule::Named(tz.clone()),
            }),
            _ => Err(unknown()),
        }
    }

    /// What reports and log entries call it: `UTC`, `+01:00` or `Europe/Berlin`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC in force at an instant.
    pub fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        match &self.rule {
            ZoneRule::Fixed(offset) => *offset,
            ZoneRule::Named(tz) => jiff::Timestamp::from_second(at.unix_timestamp())
                .ok()
                .and_then(|ts| UtcOffset::from_whole_seconds(tz.to_offset(ts).seconds()).ok())
                .unwrap_or(UtcOffset::UTC),
        }
    }

    /// The first instant of the local calendar month that contains `at`.
    pub fn start_of_month(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let local = at.to_offset(self.offset_at(at));
        self.start_of_day(local.date().replace_day(1).ok()?)
    }

    /// The first instant of a local calendar day, in UTC. Where the zone skips local midnight
    /// (a change at 00:00), the day starts at the first local time that exists.
    pub fn start_of_day(&self, date: Date) -> Option<OffsetDateTime> {
        match &self.rule {
            ZoneRule::Fixed(offset) => Some(
                date.with_time(Time::MIDNIGHT)
                    .assume_offset(*offset)
                    .to_offset(UtcOffset::UTC),
            ),
            ZoneRule::Named(tz) => {
                let civil = jiff::civil::Date::new(
                    i16::try_from(date.year()).ok()?,
                    i8::try_from(u8::from(date.month())).ok()?,
                    i8::try_from(date.day()).ok()?,
                )
                .ok()?
                .at(0, 0, 0, 0);
                let instant = tz.to_ambiguous_timestamp(civil).compatible().ok()?;
                OffsetDateTime::from_unix_timestamp(instant.as_second()).ok()
            }
        }
    }
}

/// Parses a fixed offset: `UTC`, `Z` or `+02:00` / `-05:30`.
pub fn parse_offset(text: &str) -> Result<UtcOffset, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" || t == "+00:00" {
        return Ok(UtcOffset::UTC);
    }
    let bad = || {
        format!(
            "\"{t}\" is not a fixed offset Candor can use: write it as +01:00 or -05:30 (hours up to 14), or use an IANA zone name such as Europe/Berlin"
        )
    };
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1i8, &t[1..]),
        Some(b'-') => (-1i8, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())
}

/// What a period came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The period.
    pub period: Period,
    /// Seconds of announced maintenance taken out of it.
    pub excluded_seconds: i64,
    /// Seconds that count (the period minus exclusions).
    pub counted_seconds: i64,
    /// Seconds of the counted time that have data.
    pub covered_seconds: i64,
    /// Weighted downtime, in per-mille seconds (1000 = one second of full downtime). Under the
    /// user-minute formula: the user-weighted downtime divided by the user count, rounded down.
    pub weighted_downtime_permille_seconds: i64,
    /// The formula applied.
    pub formula: Formula,
    /// Under the user-minute formula, the exact downtime in per-mille user-seconds (1000 = one
    /// user unable to work for one second); None under the time formula.
    pub weighted_downtime_permille_user_seconds: Option<i64>,
    /// Uptime in parts per billion, rounded down; None with insufficient data.
    pub uptime_ppb: Option<u64>,
    /// Whether coverage was below the policy's minimum.
    pub insufficient_data: bool,
    /// Whether the target was met (false with insufficient data).
    pub target_met: bool,
    /// The credit owed, in percent (0 with insufficient data).
    pub credit_percent: u32,
    /// Downtime still allowed by the target, in per-mille seconds (negative when exceeded).
    pub error_budget_left_permille_seconds: i64,
}

impl Report {
    /// Downtime in whole minutes (weighted), for display.
    pub fn downtime_minutes(&self) -> f64 {
        self.weighted_downtime_permille_seconds as f64 / 60_000.0
    }

    /// Uptime as a percentage, for display.
    pub fn uptime_percent(&self) -> Option<f64> {
        self.uptime_ppb.map(|p| p as f64 / 10_000_000.0)
    }
}

fn impact_rank(impact: Impact) -> u8 {
    match impact {
        Impact::Operational => 0,
        Impact::Degraded => 1,
        Impact::Partial => 2,
        Impact::Major => 3,
    }
}

/// Clips `[s, e)` to the period; None when empty.
fn clip(period: &Period, s: OffsetDateTime, e: OffsetDateTime) -> Option<(i64, i64)> {
    let s = s.max(period.start);
    let e = e.min(period.end);
    (s < e).then(|| {
        (
            (s - period.start).whole_seconds(),
            (e - period.start).whole_seconds(),
        )
    })
}

/// Merges spans into disjoint sorted ones.
fn union(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Seconds of `spans` (disjoint, sorted) that fall outside `holes` (disjoint, sorted).
fn minus(spans: &[(i64, i64)], holes: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for &(s, e) in spans {
        let mut cursor = s;
        for &(hs, he) in holes {
            if he <= cursor || hs >= e {
                continue;
            }
            if hs > cursor {
                out.push((cursor, hs));
            }
            cursor = cursor.max(he);
        }
        if cursor < e {
            out.push((cursor, e));
        }
    }
    out
}

fn total(spans: &[(i64, i64)]) -> i64 {
    spans.iter().map(|(s, e)| e - s).sum()
}

/// Computes the period's report from observed intervals and announced maintenance windows,
/// under the time formula.
pub fn compute(
    period: Period,
    observed: &[Interval],
    maintenance: &[(OffsetDateTime, OffsetDateTime)],
    policy: &Policy,
) -> Report {
    compute_with(period, observed, maintenance, policy, Formula::Time)
}

/// Computes the period's report under a formula.
///
/// Every figure is an integer in one unit: a per-mille second per user, so one second of full
/// downtime is 1000 × users units under the user-minute formula (users = 1 under the time
/// formula). An interval weighs its impact's per-mille weight × users, or, when it declares the
/// users it affected and the formula counts users, 1000 × users affected (at most 1000 × users).
pub fn compute_with(
    period: Period,
    observed: &[Interval],
    maintenance: &[(OffsetDateTime, OffsetDateTime)],
    policy: &Policy,
    formula: Formula,
) -> Report {
    let users = i128::from(formula.users().unwrap_or(1).max(1));
    let period_seconds = period.seconds().max(0);
    let holes = if policy.exclude_maintenance {
        union(
            maintenance
                .iter()
                .filter_map(|(s, e)| clip(&period, *s, *e))
                .collect(),
        )
    } else {
        Vec::new()
    };
    let excluded_seconds = total(&holes);
    let counted_seconds = period_seconds - excluded_seconds;

    // Coverage: the union of everything observed, outside the holes.
    let observed_spans: Vec<(i64, i64)> = observed
        .iter()
        .filter_map(|i| clip(&period, i.start, i.end))
        .collect();
    let covered_seconds = total(&minus(&union(observed_spans), &holes));

    // Each interval's rank and weight (units per second). Under the time formula the worst
    // impact present counts (rank = impact); under the user-minute formula the largest weight.
    let rank_and_weight = |i: &Interval| -> (u8, i128) {
        let by_impact = i128::from(policy.weights.of(i.impact)) * users;
        match (formula, i.users_affected) {
            // Operational time affects nobody, whatever count it carries.
            (Formula::UserMinutes { .. }, Some(affected)) if i.impact != Impact::Operational => {
                (0, i128::from(affected).min(users) * 1000)
            }
            (Formula::UserMinutes { .. }, _) => (0, by_impact),
            (Formula::Time, _) => (impact_rank(i.impact), by_impact),
        }
    };

    // Weighted downtime: sweep the boundaries once, keeping a count of the open intervals of
    // each (rank, weight); in each piece the worst present counts, once.
    let mut events: Vec<(i64, i32, (u8, i128))> = Vec::with_capacity(observed.len() * 2);
    for i in observed {
        if let Some((s, e)) = clip(&period, i.start, i.end) {
            let key = rank_and_weight(i);
            events.push((s, 1, key));
            events.push((e, -1, key));
        }
    }
    events.sort_unstable();
    let mut open: BTreeMap<(u8, i128), i32> = BTreeMap::new();
    let mut weighted: i128 = 0;
    let mut cursor: Option<i64> = None;
    let mut hole_index = 0usize;
    for (point, delta, key) in events {
        if let Some(from) = cursor
            && point > from
        {
            let worst = open.last_key_value().map_or(0, |((_, w), _)| *w);
            if worst > 0 {
                // Holes are sorted; skip those wholly before this piece.
                while hole_index < holes.len() && holes[hole_index].1 <= from {
                    hole_index += 1;
                }
                let seconds = total(&minus(&[(from, point)], &holes[hole_index..]));
                weighted += i128::from(seconds) * worst;
            }
        }
        let count = open.entry(key).or_insert(0);
        *count += delta;
        if *count == 0 {
            open.remove(&key);
        }
        cursor = Some(point);
    }

    let counted = i128::from(counted_seconds) * 1000 * users;
    let insufficient_data = counted_seconds <= 0
        || i128::from(covered_seconds) * 1_000_000
            < i128::from(policy.min_coverage_ppm) * i128::from(counted_seconds);
    let up = counted - weighted;
    // below(ppm): uptime < ppm / 1e6  <=>  up * 1e6 < ppm * counted, all in integers.
    let below = |ppm: u32| up * 1_000_000 < i128::from(ppm) * counted;
    let uptime_ppb =
        (!insufficient_data).then(|| u64::try_from(up * 1_000_000_000 / counted).unwrap_or(0));
    let target_met = !insufficient_data && !below(policy.target_ppm);
    let credit_percent = if insufficient_data {
        0
    } else {
        policy
            .tiers
            .iter()
            .filter(|t| below(t.below_ppm))
            .map(|t| t.credit_percent)
            .max()
            .unwrap_or(0)
    };
    // Allowed downtime = counted × (1 − target), rounded down.
    let allowed = counted * i128::from(1_000_000 - policy.target_ppm.min(1_000_000)) / 1_000_000;
    let per_user = |units: i128| i64::try_from(units.div_euclid(users)).unwrap_or(i64::MAX);

    Report {
        period,
        excluded_seconds,
        counted_seconds,
        covered_seconds,
        weighted_downtime_permille_seconds: per_user(weighted),
        formula,
        weighted_downtime_permille_user_seconds: formula
            .users()
            .map(|_| i64::try_from(weighted).unwrap_or(i64::MAX)),
        uptime_ppb,
        insufficient_data,
        target_met,
        credit_percent,
        error_budget_left_permille_seconds: per_user(allowed - weighted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn at(period: &Period, seconds: i64) -> OffsetDateTime {
        period.start + time::Duration::seconds(seconds)
    }

    fn month() -> Period {
        Period::parse("2026-11").unwrap() // 30 days: 2,592,000 s
    }

    /// The whole month observed, operational, with `down` seconds of major outage at the start.
    fn with_major(down: i64) -> Vec<Interval> {
        let p = month();
        vec![
            Interval {
                start: p.start,
                end: p.end,
                impact: Impact::Operational,
                users_affected: None,
            },
            Interval {
                start: p.start,
                end: at(&p, down),
                impact: Impact::Major,
                users_affected: None,
            },
        ]
    }

    #[test]
    fn periods_are_calendar_months_and_quarters_in_utc() {
        let m = Period::parse("2026-02").unwrap();
        assert_eq!(m.start, datetime!(2026-02-01 00:00 UTC));
        assert_eq!(m.end, datetime!(2026-03-01 00:00 UTC));
        assert_eq!(m.seconds(), 28 * 86_400);
        let q = Period::parse("2026-Q4").unwrap();
        assert_eq!(
            (q.start, q.end),
            (
                datetime!(2026-10-01 00:00 UTC),
                datetime!(2027-01-01 00:00 UTC)
            )
        );
        let d = Period::parse("2026-12").unwrap();
        assert_eq!(d.end, datetime!(2027-01-01 00:00 UTC));
        for bad in ["2026", "2026-13", "2026-1", "2026-Q5", "26-10x", "october"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_berlin_october_starts_and_ends_at_local_midnight_across_the_dst_change() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin");
        let oct = Period::parse_in("2026-10", &berlin).unwrap();
        // CEST (+02:00) at the start, CET (+01:00) at the end: clocks go back on 25 October.
        assert_eq!(oct.start, datetime!(2026-09-30 22:00 UTC));
        assert_eq!(oct.end, datetime!(2026-10-31 23:00 UTC));
        assert_eq!(oct.seconds(), 745 * 3_600);
        assert_eq!(berlin.offset_at(oct.start), time::macros::offset!(+2));
        assert_eq!(berlin.offset_at(oct.end), time::macros::offset!(+1));
        // Half an hour after the end it is already November in Berlin.
        assert_eq!(
            berlin.start_of_month(datetime!(2026-10-31 23:30 UTC)),
            Some(oct.end)
        );
        assert_eq!(
            berlin.start_of_month(datetime!(2026-10-31 22:30 UTC)),
            Some(oct.start)
        );
        // March loses the hour.
        let march = Period::parse_in("2026-03", &berlin).unwrap();
        assert_eq!(march.seconds(), 743 * 3_600);
    }

    #[test]
    fn a_quarter_across_a_dst_change_is_cut_at_local_midnights() {
        let berlin = Zone::parse("europe/berlin").unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin", "the database's spelling");
        let q1 = Period::parse_in("2026-Q1", &berlin).unwrap();
        assert_eq!(q1.start, datetime!(2025-12-31 23:00 UTC));
        assert_eq!(q1.end, datetime!(2026-03-31 22:00 UTC));
        assert_eq!(q1.seconds(), (90 * 24 - 1) * 3_600);
        let new_york = Zone::parse("America/New_York").unwrap();
        let q4 = Period::parse_in("2026-Q4", &new_york).unwrap();
        assert_eq!(q4.start, datetime!(2026-10-01 04:00 UTC));
        assert_eq!(q4.end, datetime!(2027-01-01 05:00 UTC));
        assert_eq!(q4.seconds(), (92 * 24 + 1) * 3_600);
    }

    #[test]
    fn fixed_offsets_and_utc_are_unchanged() {
        let plus_two = Zone::parse("+02:00").unwrap();
        assert_eq!(plus_two.name(), "+02:00");
        let oct = Period::parse_in("2026-10", &plus_two).unwrap();
        assert_eq!(oct.start, datetime!(2026-09-30 22:00 UTC));
        assert_eq!(oct.end, datetime!(2026-10-31 22:00 UTC));
        assert_eq!(oct.seconds(), 31 * 86_400);
        assert_eq!(
            oct,
            Period::parse_at("2026-10", time::macros::offset!(+2)).unwrap()
        );
        let minus = Zone::parse("-05:30").unwrap();
        assert_eq!(
            Period::parse_in("2026-Q1", &minus).unwrap().start,
            datetime!(2026-01-01 05:30 UTC)
        );
        for utc in ["UTC", "utc", "Z"] {
            let z = Zone::parse(utc).unwrap();
            assert_eq!(z.name(), utc);
            assert_eq!(
                Period::parse_in("2026-10", &z).unwrap(),
                Period::parse("2026-10").unwrap()
            );
        }
        assert_eq!(Zone::fixed(time::macros::offset!(-5:30)).name(), "-05:30");
        assert_eq!(Zone::fixed(UtcOffset::UTC), Zone::utc());
    }

    #[test]
    fn unknown_zones_and_bad_offsets_are_refused_by_name() {
        for bad in ["Europe/Berln", "Mars/Olympus", "Etc/Unknown", "CEST-ish"] {
            let err = Zone::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")), "{err}");
            assert!(
                err.contains("IANA zone name such as Europe/Berlin"),
                "{err}"
            );
        }
        for bad in ["+1:00", "+15:00", "-05:60", "+0100"] {
            let err = Zone::parse(bad).unwrap_err();
            assert!(err.contains("not a fixed offset"), "{err}");
        }
    }

    #[test]
    fn exactly_the_target_owes_nothing_and_one_second_more_does() {
        // 99.9 % of 2,592,000 s leaves 2,592 s (43.2 min) of downtime.
        let r = compute(month(), &with_major(2_592), &[], &Policy::default());
        assert!(r.target_met);
        assert_eq!(r.credit_percent, 0);
        assert_eq!(r.uptime_ppb, Some(999_000_000));
        assert_eq!(r.error_budget_left_permille_seconds, 0);
        let r = compute(month(), &with_major(2_593), &[], &Policy::default());
        assert!(!r.target_met);
        assert_eq!(r.credit_percent, 25);
        assert_eq!(r.error_budget_left_permille_seconds, -1000);
        // The other tiers, at their boundaries.
        assert_eq!(
            compute(month(), &with_major(25_920), &[], &Policy::default()).credit_percent,
            25
        );
        assert_eq!(
            compute(month(), &with_major(25_921), &[], &Policy::default()).credit_percent,
            50
        );
        assert_eq!(
            compute(month(), &with_major(129_600), &[], &Policy::default()).credit_percent,
            50
        );
        assert_eq!(
            compute(month(), &with_major(129_601), &[], &Policy::default()).credit_percent,
            100
        );
    }

    #[test]
    fn overlapping_incidents_count_each_second_once_at_the_worst_impact() {
        let p = month();
        let mut obs = vec![Interval {
            start: p.start,
            end: p.end,
            impact: Impact::Operational,
            users_affected: None,
        }];
        // Two major outages overlapping by 600 s: 1,800 + 1,800 − 600 = 3,000 s.
        obs.push(Interval {
            start: at(&p, 1_000),
            end: at(&p, 2_800),
            impact: Impact::Major,
            users_affected: None,
        });
        obs.push(Interval {
            start: at(&p, 2_200),
            end: at(&p, 4_000),
            impact: Impact::Major,
            users_affected: None,
        });
        let r = compute(p, &obs, &[], &Policy::default());
        assert_eq!(r.weighted_downtime_permille_seconds, 3_000 * 1000);
        // A partial outage that overlaps a major one counts only where it stands alone.
        obs.push(Interval {
            start: at(&p, 3_000),
            end: at(&p, 5_000),
            impact: Impact::Partial,
            users_affected: None,
        });
        let r = compute(p, &obs, &[], &Policy::default());
        assert_eq!(
            r.weighted_downtime_permille_seconds,
            3_000 * 1000 + 1_000 * 300
        );
        // Degraded performance costs nothing by default.
        obs.push(Interval {
            start: at(&p, 10_000),
            end: at(&p, 20_000),
            impact: Impact::Degraded,
            users_affected: None,
        });
        assert_eq!(
            compute(p, &obs, &[], &Policy::default()).weighted_downtime_permille_seconds,
            3_300_000
        );
    }

    #[test]
    fn announced_maintenance_is_taken_out_of_the_period() {
        let p = month();
        // A 2-hour outage entirely inside a 3-hour maintenance window costs nothing.
        let mut obs = with_major(0);
        obs.push(Interval {
            start: at(&p, 3_600),
            end: at(&p, 3 * 3_600),
            impact: Impact::Major,
            users_affected: None,
        });
        let window = [(at(&p, 0), at(&p, 4 * 3_600))];
        let r = compute(p, &obs, &window, &Policy::default());
        assert_eq!(r.excluded_seconds, 4 * 3_600);
        assert_eq!(r.counted_seconds, p.seconds() - 4 * 3_600);
        assert_eq!(r.weighted_downtime_permille_seconds, 0);
        assert!(r.target_met);
        // Unless the policy counts maintenance.
        let counting = Policy {
            exclude_maintenance: false,
            ..Policy::default()
        };
        let r = compute(p, &obs, &window, &counting);
        assert_eq!(r.weighted_downtime_permille_seconds, 2 * 3_600 * 1000);
        assert_eq!(r.credit_percent, 25);
    }

    #[test]
    fn too_little_data_says_so_instead_of_inventing_uptime() {
        let p = month();
        // Data for only the first 20 days.
        let obs = [Interval {
            start: p.start,
            end: at(&p, 20 * 86_400),
            impact: Impact::Operational,
            users_affected: None,
        }];
        let r = compute(p, &obs, &[], &Policy::default());
        assert!(r.insufficient_data);
        assert_eq!(r.uptime_ppb, None);
        assert!(!r.target_met);
        assert_eq!(r.credit_percent, 0);
        assert_eq!(r.covered_seconds, 20 * 86_400);
        // Data outside the period does not count.
        let outside = [Interval {
            start: p.start - time::Duration::days(40),
            end: p.start,
            impact: Impact::Major,
            users_affected: None,
        }];
        let r = compute(p, &outside, &[], &Policy::default());
        assert_eq!(
            (r.covered_seconds, r.weighted_downtime_permille_seconds),
            (0, 0)
        );
    }

    #[test]
    fn more_downtime_never_raises_uptime() {
        let mut last = u64::MAX;
        for down in (0..200_000).step_by(997) {
            let r = compute(month(), &with_major(down), &[], &Policy::default());
            let up = r.uptime_ppb.unwrap();
            assert!(up <= last, "{down}");
            last = up;
        }
    }
}
