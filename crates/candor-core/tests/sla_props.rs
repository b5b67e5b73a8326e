//! Property tests of the SLA arithmetic: named-zone periods and the user-minute formula.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candor_core::sla::{Formula, Impact, Interval, Period, Policy, Zone, compute, compute_with};
use proptest::prelude::*;
use time::Duration;

const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Chatham",
];

type Raw = (i64, i64, Impact, Option<u64>);

fn impact() -> impl Strategy<Value = Impact> {
    prop::sample::select(vec![
        Impact::Operational,
        Impact::Degraded,
        Impact::Partial,
        Impact::Major,
    ])
}

/// Intervals inside November 2026 (seconds from its start), some with a users-affected count.
fn intervals(max_users: u64) -> impl Strategy<Value = Vec<Raw>> {
    prop::collection::vec(
        (
            0i64..2_592_000,
            1i64..200_000,
            impact(),
            prop::option::of(1..=max_users),
        ),
        0..12,
    )
}

/// November observed throughout (operational), plus the raw intervals.
fn build(period: &Period, raw: &[Raw], counts: bool) -> Vec<Interval> {
    let mut out = vec![Interval {
        start: period.start,
        end: period.end,
        impact: Impact::Operational,
        users_affected: None,
    }];
    out.extend(raw.iter().map(|(s, len, impact, users)| Interval {
        start: period.start + Duration::seconds(*s),
        end: period.start + Duration::seconds(s + len),
        impact: *impact,
        users_affected: if counts { *users } else { None },
    }));
    out
}

proptest! {
    /// A named zone's month starts at local midnight on the 1st (or the first local time after
    /// it, where midnight is skipped), is a whole number of days give or take the DST change
    /// inside it, and ends where the next month starts.
    #[test]
    fn named_zone_months_start_at_local_midnight(
        zone in prop::sample::select(ZONES.to_vec()),
        year in 1980i32..2090,
        month in 1u8..=12,
    ) {
        let zone = Zone::parse(zone).unwrap();
        let label = format!("{year}-{month:02}");
        let period = Period::parse_in(&label, &zone).unwrap();
        let local = period.start.to_offset(zone.offset_at(period.start));
        prop_assert_eq!((u8::from(local.month()), local.day()), (month, 1), "{}", label);
        prop_assert!(local.hour() <= 1, "{label} starts at {local}");
        let days = time::util::days_in_month(local.month(), year);
        let drift = period.seconds() - i64::from(days) * 86_400;
        prop_assert!(drift.abs() <= 3_600, "{label}: {drift}");
        let next = if month == 12 {
            format!("{}-01", year + 1)
        } else {
            format!("{year}-{:02}", month + 1)
        };
        prop_assert_eq!(Period::parse_in(&next, &zone).unwrap().start, period.end);
    }

    /// Without declared counts the user-minute formula gives the time formula's figures.
    #[test]
    fn without_counts_user_minutes_equal_time(
        raw in intervals(5_000),
        users in 1u64..1_000_000,
    ) {
        let period = Period::parse("2026-11").unwrap();
        let observed = build(&period, &raw, false);
        let policy = Policy::default();
        let time = compute(period, &observed, &[], &policy);
        let by_users =
            compute_with(period, &observed, &[], &policy, Formula::UserMinutes { users });
        prop_assert_eq!(by_users.uptime_ppb, time.uptime_ppb);
        prop_assert_eq!(by_users.credit_percent, time.credit_percent);
        prop_assert_eq!(by_users.target_met, time.target_met);
        prop_assert_eq!(
            by_users.weighted_downtime_permille_seconds,
            time.weighted_downtime_permille_seconds
        );
        prop_assert_eq!(
            by_users.error_budget_left_permille_seconds,
            time.error_budget_left_permille_seconds
        );
        prop_assert_eq!(
            by_users.weighted_downtime_permille_user_seconds,
            Some(time.weighted_downtime_permille_seconds * i64::try_from(users).unwrap())
        );
    }

    /// Declaring more users affected never raises uptime, and downtime never exceeds every
    /// user down for the union of the intervals.
    #[test]
    fn more_users_affected_never_raise_uptime(
        raw in intervals(1_200),
        extra in 1u64..600,
    ) {
        let period = Period::parse("2026-11").unwrap();
        let formula = Formula::UserMinutes { users: 1_200 };
        let policy = Policy::default();
        let base = compute_with(period, &build(&period, &raw, true), &[], &policy, formula);
        let more: Vec<Raw> = raw
            .iter()
            .map(|(s, l, i, u)| (*s, *l, *i, u.map(|u| u + extra)))
            .collect();
        let worse = compute_with(period, &build(&period, &more, true), &[], &policy, formula);
        prop_assert!(worse.uptime_ppb <= base.uptime_ppb);
        let all_down: Vec<Raw> = raw
            .iter()
            .map(|(s, l, _, _)| (*s, *l, Impact::Major, None))
            .collect();
        let ceiling =
            compute_with(period, &build(&period, &all_down, true), &[], &policy, formula);
        prop_assert!(
            worse.weighted_downtime_permille_user_seconds
                <= ceiling.weighted_downtime_permille_user_seconds
        );
    }
}
