//! The operations part of `candor.toml`: `[status]`, `[[component_groups]]`, `[[components]]`
//! and `[[sla]]`, validated into [`StatusSettings`] with every problem pointing at its line.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, line_of};
use crate::sla::{self, CreditTier, Policy, Weights};
use crate::status::{
    ComponentSpec, DowntimeSource, GroupSpec, IncidentPolicy, SlaPeriodKind, SlaPolicySpec,
    StatusSettings,
};

/// `[status]`: history retention.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSection {
    /// Days raw probe samples are kept (default 30).
    pub sample_retention_days: Option<Spanned<i64>>,
    /// Days per-minute rollups are kept (default 90).
    pub minute_rollup_retention_days: Option<Spanned<i64>>,
    /// Whether monitors created through the API may probe private and loopback addresses
    /// (`allow_private`); default false, so an API token cannot reach the internal network.
    pub api_monitors_allow_private: Option<bool>,
}

/// `[[component_groups]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSection {
    /// Stable id.
    pub id: Spanned<String>,
    /// Display name.
    pub name: Spanned<String>,
    /// One line about it.
    pub description: Option<String>,
}

/// `[[components]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSection {
    /// Stable id.
    pub id: Spanned<String>,
    /// Display name.
    pub name: Spanned<String>,
    /// One line about it.
    pub description: Option<String>,
    /// Group id.
    pub group: Option<Spanned<String>>,
    /// Monitor ids.
    #[serde(default)]
    pub monitors: Vec<Spanned<String>>,
    /// `draft` (default), `publish` or `off`.
    pub incidents: Option<Spanned<String>>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<Spanned<String>>,
}

/// `[[sla]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSection {
    /// Stable id.
    pub id: Spanned<String>,
    /// Components covered (none: all).
    #[serde(default)]
    pub components: Vec<Spanned<String>>,
    /// Target, percent as a string or number (`"99.9"`).
    pub target: Option<Spanned<toml::Value>>,
    /// `month` (default) or `quarter`.
    pub period: Option<Spanned<String>>,
    /// `probes` (default), `incidents` or `both`.
    pub downtime_source: Option<Spanned<String>>,
    /// Weights, as fractions (`major = 1.0`, `partial = 0.3`, `degraded = 0`).
    pub weights: Option<Spanned<toml::Table>>,
    /// Whether announced maintenance is excluded (default true).
    pub exclude_maintenance: Option<bool>,
    /// `UTC` (default), a fixed offset (`+01:00`) or an IANA zone name (`Europe/Berlin`).
    pub time_zone: Option<Spanned<String>>,
    /// Minimum coverage, percent (default 90).
    pub min_coverage: Option<Spanned<toml::Value>>,
    /// `[[sla.credits]]`: `below = "99.9"`, `credit = 25`.
    #[serde(default)]
    pub credits: Vec<CreditSection>,
    /// Users per component for the user-minute formula.
    pub users: Option<Spanned<toml::Table>>,
}

/// `[[sla.credits]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditSection {
    /// Uptime below this percent owes the credit.
    pub below: Spanned<toml::Value>,
    /// Percent of the fee.
    pub credit: Spanned<i64>,
}

/// The raw operations sections of a config file.
#[derive(Debug, Default)]
pub struct Sections<'a> {
    /// `[status]`
    pub status: Option<&'a StatusSection>,
    /// `[[component_groups]]`
    pub groups: &'a [GroupSection],
    /// `[[components]]`
    pub components: &'a [ComponentSection],
    /// `[[sla]]`
    pub sla: &'a [SlaSection],
}

/// The largest user count a policy may declare for a component.
pub const MAX_USERS: u64 = 1_000_000_000;

/// Parses a percentage written as a string or number (`"99.95"`, `99.9`, `100`) into parts
/// per million, exactly: at most four decimals.
pub fn percent_to_ppm(value: &toml::Value) -> Result<u32, String> {
    let text = match value {
        toml::Value::String(s) => s.trim().trim_end_matches('%').trim().to_owned(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => format!("{f}"),
        other => {
            return Err(format!(
                "expected a percentage such as \"99.9\", found a {}",
                other.type_str()
            ));
        }
    };
    let bad = || {
        format!(
            "\"{text}\" is not a percentage between 0 and 100 with at most 4 decimals, such as \"99.9\""
        )
    };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if frac.len() > 4
        || whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let mut frac_digits = frac.to_owned();
    while frac_digits.len() < 4 {
        frac_digits.push('0');
    }
    let frac: u32 = frac_digits.parse().map_err(|_| bad())?;
    let ppm = whole
        .checked_mul(10_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)?;
    if ppm > 1_000_000 {
        return Err(bad());
    }
    Ok(ppm)
}

fn fraction_to_permille(value: &toml::Value) -> Result<u32, String> {
    let ppm = match value {
        toml::Value::Integer(i) if (0..=1).contains(i) => {
            Ok(u32::try_from(*i).unwrap_or(0) * 1_000_000)
        }
        toml::Value::Float(f) if (0.0..=1.0).contains(f) => Ok((f * 1_000_000.0).round() as u32),
        other => Err(format!(
            "expected a weight between 0 and 1 such as 0.3, found a {}",
            other.type_str()
        )),
    }?;
    if ppm % 1000 != 0 {
        return Err("weights have at most three decimals (e.g. 0.125)".to_owned());
    }
    Ok(ppm / 1000)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Resolves the operations sections. `monitor_ids` are the monitors declared in the file (for
/// components that name them).
pub fn resolve(
    sections: &Sections<'_>,
    monitor_ids: &[String],
    text: &str,
    path: &Path,
    problems: &mut Vec<Diagnostic>,
) -> StatusSettings {
    let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
    let mut push = |span: std::ops::Range<usize>, key: &str, message: String| {
        problems.push(Diagnostic::in_file(path, at(span), Some(key), message));
    };
    let mut settings = StatusSettings::default();

    if let Some(status) = sections.status {
        settings.api_monitors_allow_private = status.api_monitors_allow_private.unwrap_or(false);
        for (field, key, target) in [
            (
                &status.sample_retention_days,
                "status.sample_retention_days",
                &mut settings.sample_retention_days,
            ),
            (
                &status.minute_rollup_retention_days,
                "status.minute_rollup_retention_days",
                &mut settings.minute_rollup_retention_days,
            ),
        ] {
            if let Some(days) = field {
                match u32::try_from(*days.get_ref()) {
                    Ok(d) if (1..=3650).contains(&d) => *target = d,
                    _ => push(
                        days.span(),
                        key,
                        format!(
                            "{} is not a number of days between 1 and 3650",
                            days.get_ref()
                        ),
                    ),
                }
            }
        }
    }

    let mut ids: Vec<String> = Vec::new();
    for (position, g) in sections.groups.iter().enumerate() {
        let id = g.id.get_ref().trim().to_owned();
        if !valid_id(&id) {
            push(
                g.id.span(),
                "component_groups.id",
                format!(
                    "\"{id}\" is not a valid id: use lowercase letters, digits and '-' (at most 64)"
                ),
            );
        } else if ids.contains(&id) {
            push(
                g.id.span(),
                "component_groups.id",
                format!("the id \"{id}\" is used twice; group and component ids must be unique"),
            );
        }
        if g.name.get_ref().trim().is_empty() {
            push(
                g.name.span(),
                "component_groups.name",
                "must not be empty".to_owned(),
            );
        }
        ids.push(id.clone());
        settings.groups.push(GroupSpec {
            id,
            name: g.name.get_ref().trim().to_owned(),
            description: g.description.clone(),
            position: u32::try_from(position).unwrap_or(u32::MAX),
        });
    }
    let group_ids: Vec<String> = settings.groups.iter().map(|g| g.id.clone()).collect();

    for (position, c) in sections.components.iter().enumerate() {
        let id = c.id.get_ref().trim().to_owned();
        if !valid_id(&id) {
            push(
                c.id.span(),
                "components.id",
                format!(
                    "\"{id}\" is not a valid id: use lowercase letters, digits and '-' (at most 64)"
                ),
            );
        } else if ids.contains(&id) {
            push(
                c.id.span(),
                "components.id",
                format!("the id \"{id}\" is used twice; group and component ids must be unique"),
            );
        }
        ids.push(id.clone());
        if c.name.get_ref().trim().is_empty() {
            push(
                c.name.span(),
                "components.name",
                "must not be empty".to_owned(),
            );
        }
        let group = c.group.as_ref().map(|g| {
            let gid = g.get_ref().trim().to_owned();
            if !group_ids.contains(&gid) {
                let known = if group_ids.is_empty() {
                    "none are declared in [[component_groups]]".to_owned()
                } else {
                    format!("declared groups: {}", group_ids.join(", "))
                };
                push(
                    g.span(),
                    "components.group",
                    format!("unknown group \"{gid}\"; {known}"),
                );
            }
            gid
        });
        let mut monitors = Vec::new();
        for m in &c.monitors {
            let mid = m.get_ref().trim().to_owned();
            if !monitor_ids.contains(&mid) {
                let known = if monitor_ids.is_empty() {
                    "none are declared in [[monitors]]".to_owned()
                } else {
                    format!("declared monitors: {}", monitor_ids.join(", "))
                };
                push(
                    m.span(),
                    "components.monitors",
                    format!("unknown monitor \"{mid}\"; {known}"),
                );
            }
            monitors.push(mid);
        }
        let incident_policy = match c.incidents.as_ref() {
            None => IncidentPolicy::Draft,
            Some(p) => match p.get_ref().as_str() {
                "draft" => IncidentPolicy::Draft,
                "publish" => IncidentPolicy::Publish,
                "off" => IncidentPolicy::Off,
                other => {
                    push(
                        p.span(),
                        "components.incidents",
                        format!(
                            "\"{other}\" is not an incident policy; use draft (an operator approves), publish (at once) or off"
                        ),
                    );
                    IncidentPolicy::Draft
                }
            },
        };
        let start_date = c.start_date.as_ref().and_then(|d| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(d.get_ref(), format)
                .map_err(|_| {
                    push(
                        d.span(),
                        "components.start_date",
                        format!("\"{}\" is not a date; expected YYYY-MM-DD", d.get_ref()),
                    )
                })
                .ok()
        });
        settings.components.push(ComponentSpec {
            id,
            name: c.name.get_ref().trim().to_owned(),
            description: c.description.clone(),
            group,
            monitors,
            position: u32::try_from(position).unwrap_or(u32::MAX),
            incident_policy,
            start_date,
        });
    }
    let component_ids: Vec<String> = settings.components.iter().map(|c| c.id.clone()).collect();

    let mut sla_ids: Vec<String> = Vec::new();
    for s in sections.sla {
        let id = s.id.get_ref().trim().to_owned();
        if !valid_id(&id) {
            push(
                s.id.span(),
                "sla.id",
                format!("\"{id}\" is not a valid id: use lowercase letters, digits and '-'"),
            );
        } else if sla_ids.contains(&id) {
            push(
                s.id.span(),
                "sla.id",
                format!("the SLA policy id \"{id}\" is used twice"),
            );
        }
        sla_ids.push(id.clone());
        let mut components = Vec::new();
        for c in &s.components {
            let cid = c.get_ref().trim().to_owned();
            if !component_ids.contains(&cid) {
                push(
                    c.span(),
                    "sla.components",
                    format!(
                        "unknown component \"{cid}\"; declared components: {}",
                        component_ids.join(", ")
                    ),
                );
            }
            components.push(cid);
        }
        let mut policy = Policy::default();
        if let Some(t) = &s.target {
            match percent_to_ppm(t.get_ref()) {
                Ok(ppm) if ppm > 0 => policy.target_ppm = ppm,
                Ok(_) => push(
                    t.span(),
                    "sla.target",
                    "the target must be above 0 %".to_owned(),
                ),
                Err(m) => push(t.span(), "sla.target", m),
            }
        }
        if let Some(m) = &s.min_coverage {
            match percent_to_ppm(m.get_ref()) {
                Ok(ppm) => policy.min_coverage_ppm = ppm,
                Err(msg) => push(m.span(), "sla.min_coverage", msg),
            }
        }
        if let Some(ex) = s.exclude_maintenance {
            policy.exclude_maintenance = ex;
        }
        if let Some(w) = &s.weights {
            let mut weights = Weights::default();
            for (name, value) in w.get_ref() {
                let slot = match name.as_str() {
                    "major" => &mut weights.major,
                    "partial" => &mut weights.partial,
                    "degraded" => &mut weights.degraded,
                    other => {
                        push(
                            w.span(),
                            "sla.weights",
                            format!("unknown weight \"{other}\"; use major, partial and degraded"),
                        );
                        continue;
                    }
                };
                match fraction_to_permille(value) {
                    Ok(p) => *slot = p,
                    Err(m) => push(w.span(), &format!("sla.weights.{name}"), m),
                }
            }
            policy.weights = weights;
        }
        if !s.credits.is_empty() {
            let mut tiers = Vec::new();
            for c in &s.credits {
                let below = percent_to_ppm(c.below.get_ref())
                    .map_err(|m| push(c.below.span(), "sla.credits.below", m))
                    .ok();
                let credit = u32::try_from(*c.credit.get_ref())
                    .ok()
                    .filter(|p| (1..=100).contains(p));
                if credit.is_none() {
                    push(
                        c.credit.span(),
                        "sla.credits.credit",
                        format!(
                            "{} is not a credit between 1 and 100 (percent of the fee)",
                            c.credit.get_ref()
                        ),
                    );
                }
                if let (Some(below_ppm), Some(credit_percent)) = (below, credit) {
                    tiers.push(CreditTier {
                        below_ppm,
                        credit_percent,
                    });
                }
            }
            policy.tiers = tiers;
        }
        let period = match s.period.as_ref() {
            None => SlaPeriodKind::Month,
            Some(p) => match p.get_ref().as_str() {
                "month" => SlaPeriodKind::Month,
                "quarter" => SlaPeriodKind::Quarter,
                other => {
                    push(
                        p.span(),
                        "sla.period",
                        format!("\"{other}\" is not an SLA period; use month or quarter"),
                    );
                    SlaPeriodKind::Month
                }
            },
        };
        let source = match s.downtime_source.as_ref() {
            None => DowntimeSource::Probes,
            Some(p) => match p.get_ref().as_str() {
                "probes" => DowntimeSource::Probes,
                "incidents" => DowntimeSource::Incidents,
                "both" => DowntimeSource::Both,
                other => {
                    push(
                        p.span(),
                        "sla.downtime_source",
                        format!(
                            "\"{other}\" is not a downtime source; use probes, incidents or both"
                        ),
                    );
                    DowntimeSource::Probes
                }
            },
        };
        let time_zone = s.time_zone.as_ref().and_then(|z| {
            sla::Zone::parse(z.get_ref())
                .map_err(|m| push(z.span(), "sla.time_zone", m))
                .ok()
                .map(|zone| zone.name().to_owned())
        });
        let mut user_counts = Vec::new();
        if let Some(users) = &s.users {
            for (cid, n) in users.get_ref() {
                if !component_ids.contains(cid) {
                    push(
                        users.span(),
                        "sla.users",
                        format!(
                            "unknown component \"{cid}\"; declared components: {}",
                            component_ids.join(", ")
                        ),
                    );
                }
                match n.as_integer().and_then(|n| u64::try_from(n).ok()) {
                    // The cap keeps the user-minute arithmetic of a quarter within 64 bits.
                    Some(n) if (1..=MAX_USERS).contains(&n) => {
                        user_counts.push((cid.clone(), n));
                    }
                    _ => push(
                        users.span(),
                        "sla.users",
                        format!(
                            "the user count of \"{cid}\" must be a whole number from 1 to 1000000000"
                        ),
                    ),
                }
            }
        }
        settings.sla.push(SlaPolicySpec {
            id,
            components,
            policy,
            source,
            period,
            time_zone,
            user_counts,
        });
    }
    settings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Deserialize)]
    struct File {
        status: Option<StatusSection>,
        #[serde(default)]
        component_groups: Vec<GroupSection>,
        #[serde(default)]
        components: Vec<ComponentSection>,
        #[serde(default)]
        sla: Vec<SlaSection>,
    }

    fn load(text: &str) -> (StatusSettings, Vec<Diagnostic>) {
        let file: File = toml::from_str(text).unwrap();
        let mut problems = Vec::new();
        let settings = resolve(
            &Sections {
                status: file.status.as_ref(),
                groups: &file.component_groups,
                components: &file.components,
                sla: &file.sla,
            },
            &["api-health".to_owned()],
            text,
            Path::new("candor.toml"),
            &mut problems,
        );
        (settings, problems)
    }

    #[test]
    fn percentages_are_exact() {
        assert_eq!(
            percent_to_ppm(&toml::Value::String("99.9".into())).unwrap(),
            999_000
        );
        assert_eq!(
            percent_to_ppm(&toml::Value::String("99.95%".into())).unwrap(),
            999_500
        );
        assert_eq!(percent_to_ppm(&toml::Value::Integer(95)).unwrap(), 950_000);
        assert_eq!(percent_to_ppm(&toml::Value::Float(99.99)).unwrap(), 999_900);
        assert!(percent_to_ppm(&toml::Value::String("101".into())).is_err());
        assert!(percent_to_ppm(&toml::Value::String("99.99999".into())).is_err());
    }

    #[test]
    fn a_full_declaration_resolves() {
        let (s, problems) = load(
            r#"
[status]
sample_retention_days = 14

[[component_groups]]
id = "platform"
name = "Platform"

[[components]]
id = "api"
name = "API"
group = "platform"
monitors = ["api-health"]
incidents = "publish"

[[sla]]
id = "standard"
target = "99.95"
downtime_source = "both"
weights = { major = 1, partial = 0.5, degraded = 0 }
credits = [ { below = "99.95", credit = 10 }, { below = "99", credit = 25 } ]
users = { api = 1200 }
"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.sample_retention_days, 14);
        assert_eq!(s.components[0].incident_policy, IncidentPolicy::Publish);
        let p = s.policy_for("api");
        assert_eq!(p.policy.target_ppm, 999_500);
        assert_eq!(p.policy.weights.partial, 500);
        assert_eq!(p.policy.tiers.len(), 2);
        assert_eq!(p.source, DowntimeSource::Both);
        assert_eq!(p.user_counts, vec![("api".to_owned(), 1200)]);
    }

    #[test]
    fn time_zones_take_iana_names_and_refuse_unknown_ones_at_their_line() {
        let (s, problems) = load(
            "[[components]]\nid = \"api\"\nname = \"API\"\n\n[[sla]]\nid = \"eu\"\ncomponents = [\"api\"]\ntime_zone = \"europe/berlin\"\n\n[[sla]]\nid = \"fixed\"\ntime_zone = \"+01:00\"\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            s.policy_for("api").time_zone.as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(s.sla[1].time_zone.as_deref(), Some("+01:00"));
        let (_, problems) = load(
            "[[components]]\nid = \"api\"\nname = \"API\"\n\n[[sla]]\nid = \"eu\"\n\ntime_zone = \"Europe/Berln\"\n",
        );
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0]
                .starts_with("candor.toml:8: `sla.time_zone`: \"Europe/Berln\" is not a time zone"),
            "{text:?}"
        );
        assert!(text[0].contains("IANA zone name"), "{text:?}");
    }

    #[test]
    fn mistakes_point_at_their_line() {
        let (_, problems) = load(
            "[[components]]\nid = \"api\"\nname = \"API\"\ngroup = \"nope\"\nmonitors = [\"missing\"]\n\n[[sla]]\nid = \"s\"\ntarget = \"abc\"\n",
        );
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("candor.toml:4:") && t.contains("unknown group \"nope\"")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("candor.toml:5:")
                && t.contains("unknown monitor \"missing\"")
                && t.contains("api-health")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("candor.toml:9:") && t.contains("not a percentage")),
            "{text:?}"
        );
    }
}
