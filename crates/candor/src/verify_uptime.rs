//! `candor verify LOG_URL --uptime COMPONENT --period 2026-10`: recomputes a component's SLA
//! report from the verified log's entries alone — with the server's own arithmetic,
//! [`candor_core::uptime::component_report`] — and compares it, field by exact integer field,
//! with what the trust center publishes: the `sla.report` entry in force in the log (the last
//! of its amendment chain) and the report the API serves.

use serde_json::Value;
use time::OffsetDateTime;

use candor_core::entries::timestamp;
use candor_core::uptime::{ComponentReport, component_report, percent_from_ppb};
use candor_core::uptime_log::{PolicyOrigin, PublishedReport, rebuild};

use crate::cli::VerifyArgs;
use crate::verify::VerifyError;

/// The report's fields, in the order differences are reported: the figures first.
const FIELDS: [&str; 28] = [
    "uptime_ppb",
    "weighted_downtime_permille_seconds",
    "weighted_downtime_permille_user_seconds",
    "formula",
    "users",
    "credit_percent",
    "covered_seconds",
    "counted_seconds",
    "excluded_seconds",
    "coverage_ppm",
    "downtime_seconds",
    "error_budget_left_permille_seconds",
    "insufficient_data",
    "target_met",
    "component",
    "period",
    "policy",
    "target_ppm",
    "min_coverage_ppm",
    "source",
    "time_zone",
    "start",
    "end",
    "complete",
    "incidents",
    "maintenances",
    "uptime_percent",
    "downtime_user_minutes",
];

/// Fields only a user-minute report has: a published report that has them when the recomputed
/// one does not claims a formula the log does not support.
const FORMULA_FIELDS: [&str; 3] = [
    "formula",
    "users",
    "weighted_downtime_permille_user_seconds",
];

/// One field on which a published report differs from the recomputed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field.
    pub field: String,
    /// Its recomputed value (JSON).
    pub recomputed: String,
    /// Its published value (JSON), or `(missing)`.
    pub published: String,
}

/// The fields on which `published` differs from `recomputed` (both `ComponentReport::to_json`
/// objects), figures first. Every field of the recomputed report is compared exactly (the
/// display string `uptime_percent` included, last, so a correct figure cannot be shown as
/// another); fields the published report adds are ignored.
pub fn differences(recomputed: &Value, published: &Value) -> Vec<Difference> {
    let mut fields: Vec<&str> = FIELDS.to_vec();
    if let Value::Object(map) = recomputed {
        for key in map.keys() {
            if !fields.contains(&key.as_str()) {
                fields.push(key);
            }
        }
    }
    fields
        .into_iter()
        .filter_map(|field| {
            let want = match recomputed.get(field) {
                Some(want) => want,
                None if FORMULA_FIELDS.contains(&field) => {
                    let got = published.get(field)?;
                    return Some(Difference {
                        field: field.to_owned(),
                        recomputed: "(missing)".to_owned(),
                        published: got.to_string(),
                    });
                }
                None => return None,
            };
            let got = published.get(field);
            (got != Some(want)).then(|| Difference {
                field: field.to_owned(),
                recomputed: want.to_string(),
                published: got.map_or_else(|| "(missing)".to_owned(), Value::to_string),
            })
        })
        .collect()
}

/// The base URL of the trust center whose log is at `log_url`.
pub fn default_api_base(log_url: &str) -> String {
    let base = log_url.trim_end_matches('/');
    base.strip_suffix("/log").unwrap_or(base).to_owned()
}

/// Runs the check on the verified entries (in log order); returns the lines to print.
pub(crate) async fn check(
    client: &reqwest::Client,
    log_url: &str,
    args: &VerifyArgs,
    component: &str,
    entries: Vec<Vec<u8>>,
) -> Result<String, VerifyError> {
    let Some(period) = args.period.as_deref() else {
        return Err(VerifyError::Usage(
            "--uptime needs --period (a month like 2026-10 or a quarter like 2026-Q4)".into(),
        ));
    };
    let indexed: Vec<(u64, Vec<u8>)> = (0u64..).zip(entries).collect();
    let records = rebuild(&indexed).map_err(|e| {
        VerifyError::Mismatch(format!("the log's uptime records cannot be read: {e}"))
    })?;
    let (spec, origin) = records.policy_for(component);
    let now = OffsetDateTime::now_utc();
    let recomputed = component_report(&spec, component, period, &records.records(), now)
        .map_err(VerifyError::Usage)?;
    if !recomputed.complete {
        return Err(VerifyError::Usage(format!(
            "the period {period} is not over (it ends {}): only a closed period can be checked, because until then its figures change and its open intervals are not in the log yet",
            timestamp(Period::end_of(&spec, period)?)
        )));
    }
    let chain = records
        .report_chain(component, period)
        .map_err(VerifyError::Mismatch)?;
    let in_force = chain.last().copied();

    let api_base = args.api.as_deref().map_or_else(
        || default_api_base(log_url),
        |a| a.trim_end_matches('/').to_owned(),
    );
    let api_url = format!("{api_base}/api/v1/sla/{component}/{period}");
    let served = fetch_report(client, &api_url).await?;

    let want = recomputed.to_json();
    let mut notes = Vec::new();
    notes.push(match &origin {
        PolicyOrigin::Logged(i) => format!(
            "policy \"{}\" from the sla.policy entry at log index {i}",
            spec.id
        ),
        PolicyOrigin::Default => format!(
            "no sla.policy entry in the log covers {component}: the default policy \"{}\" was applied",
            spec.id
        ),
    });
    notes.push(chain_text(&chain));
    if served.is_none() {
        notes.push(format!(
            "the API has no report at {api_url} (404): this trust center does not serve /api/v1/sla yet, or does not know the component"
        ));
    }
    let mut lines = vec![format!(
        "SLA report of {component} for {period} recomputed from {} log entries ({})",
        indexed.len(),
        recomputed.time_zone
    )];
    lines.extend(table(&recomputed, in_force, served.as_ref()));
    lines.extend(notes.iter().map(|n| format!("note: {n}")));

    let mut failures = Vec::new();
    if let Some(report) = in_force {
        for d in differences(&want, &report.report) {
            failures.push(format!(
                "{}: recomputed {}, but the sla.report at log index {} says {}",
                d.field, d.recomputed, report.index, d.published
            ));
        }
    }
    if let Some(body) = &served {
        for d in differences(&want, body) {
            failures.push(format!(
                "{}: recomputed {}, but the API ({api_url}) says {}",
                d.field, d.recomputed, d.published
            ));
        }
    }
    if in_force.is_none() && served.is_none() {
        failures.push(format!(
            "nothing published to compare with: the log holds no sla.report for {component} {period} and the API answered 404"
        ));
    }
    if !failures.is_empty() {
        if matches!(origin, PolicyOrigin::Default)
            && failures.iter().any(|f| f.starts_with("policy:"))
        {
            failures.push(
                "hint: the trust center applies a policy the log does not record (no sla.policy entry)"
                    .into(),
            );
        }
        return Err(VerifyError::Mismatch(format!(
            "the published SLA report of {component} for {period} does not match the log\n{}\n{}",
            failures.join("\n"),
            lines.join("\n")
        )));
    }
    let compared = match (in_force, &served) {
        (Some(r), Some(_)) => format!("the sla.report at log index {} and the API agree", r.index),
        (Some(r), None) => format!("the sla.report at log index {} agrees", r.index),
        (None, Some(_)) => "the API agrees (no sla.report in the log yet)".to_owned(),
        (None, None) => String::new(),
    };
    Ok(format!(
        "uptime of {component} for {period}: {} recomputed; {compared}\n    {}",
        recomputed.uptime_display(),
        lines.join("\n    ")
    ))
}

/// Period arithmetic for messages.
struct Period;

impl Period {
    fn end_of(
        spec: &candor_core::status::SlaPolicySpec,
        label: &str,
    ) -> Result<OffsetDateTime, VerifyError> {
        let zone = spec.zone().map_err(VerifyError::Usage)?;
        candor_core::sla::Period::parse_in(label, &zone)
            .map(|p| p.end)
            .map_err(VerifyError::Usage)
    }
}

/// GET the API's report: Some(object) on 200, None on 404, an error otherwise.
async fn fetch_report(client: &reqwest::Client, url: &str) -> Result<Option<Value>, VerifyError> {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        status => return Err(VerifyError::Fetch(format!("GET {url}: HTTP {status}"))),
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(VerifyError::Mismatch(format!(
            "GET {url}: the report is not a JSON object"
        ))),
        Err(e) => Err(VerifyError::Mismatch(format!(
            "GET {url}: the report is not JSON ({e})"
        ))),
    }
}

fn chain_text(chain: &[&PublishedReport]) -> String {
    if chain.is_empty() {
        return "the log holds no sla.report for this component and period".to_owned();
    }
    let links: Vec<String> = chain
        .iter()
        .map(|r| match r.amends {
            Some(i) => format!("#{} (amends #{i})", r.index),
            None => format!("#{} (original)", r.index),
        })
        .collect();
    format!(
        "sla.report chain in the log: {}; the last is in force",
        links.join(" -> ")
    )
}

/// Display helpers over a report object (recomputed or published).
fn int(report: &Value, field: &str) -> Option<i64> {
    report.get(field).and_then(Value::as_i64)
}

fn uptime_cell(report: &Value) -> String {
    if report.get("insufficient_data") == Some(&Value::Bool(true)) {
        return "insufficient data".into();
    }
    match report.get("uptime_ppb").and_then(Value::as_u64) {
        Some(ppb) => format!("{} %", percent_from_ppb(ppb)),
        None => "-".into(),
    }
}

fn downtime_cell(report: &Value) -> String {
    match int(report, "weighted_downtime_permille_seconds") {
        Some(p) => format!("{}.{:03} s", p / 1000, (p % 1000).abs()),
        None => "-".into(),
    }
}

fn credit_cell(report: &Value) -> String {
    int(report, "credit_percent").map_or_else(|| "-".into(), |c| format!("{c} %"))
}

fn coverage_cell(report: &Value) -> String {
    match (
        int(report, "covered_seconds"),
        int(report, "counted_seconds"),
    ) {
        (Some(covered), Some(counted)) => format!("{covered} / {counted} s"),
        _ => "-".into(),
    }
}

fn table(
    recomputed: &ComponentReport,
    in_force: Option<&PublishedReport>,
    served: Option<&Value>,
) -> Vec<String> {
    let want = recomputed.to_json();
    let mut columns: Vec<(String, &Value)> = vec![("recomputed".into(), &want)];
    if let Some(r) = in_force {
        columns.push((format!("log #{}", r.index), &r.report));
    }
    if let Some(body) = served {
        columns.push(("API".into(), body));
    }
    type Cell = fn(&Value) -> String;
    let rows: [(&str, Cell); 4] = [
        ("uptime", uptime_cell),
        ("downtime", downtime_cell),
        ("credit", credit_cell),
        ("coverage", coverage_cell),
    ];
    let mut out = vec![format!(
        "{:<10}{}",
        "",
        columns
            .iter()
            .map(|(name, _)| format!("{name:<24}"))
            .collect::<String>()
    )];
    for (label, cell) in rows {
        out.push(format!(
            "{label:<10}{}",
            columns
                .iter()
                .map(|(_, v)| format!("{:<24}", cell(v)))
                .collect::<String>()
        ));
    }
    out.iter().map(|l| l.trim_end().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_api_base_is_the_log_url_without_log() {
        assert_eq!(
            default_api_base("https://t.example/log"),
            "https://t.example"
        );
        assert_eq!(
            default_api_base("https://t.example/log/"),
            "https://t.example"
        );
        assert_eq!(
            default_api_base("http://127.0.0.1:8/x"),
            "http://127.0.0.1:8/x"
        );
    }

    #[test]
    fn differences_name_the_field_and_both_values_figures_first() {
        let want = json!({"uptime_ppb": 998_000_000u64, "credit_percent": 25, "policy": "standard", "uptime_percent": "99.800", "incidents": ["a"]});
        assert!(differences(&want, &want).is_empty());
        let mut got = want.clone();
        got["policy"] = json!("gold");
        got["uptime_ppb"] = json!(999_000_000u64);
        got["extra"] = json!(1);
        got.as_object_mut().unwrap().remove("incidents");
        let d = differences(&want, &got);
        assert_eq!(
            d,
            vec![
                Difference {
                    field: "uptime_ppb".into(),
                    recomputed: "998000000".into(),
                    published: "999000000".into()
                },
                Difference {
                    field: "policy".into(),
                    recomputed: "\"standard\"".into(),
                    published: "\"gold\"".into()
                },
                Difference {
                    field: "incidents".into(),
                    recomputed: "[\"a\"]".into(),
                    published: "(missing)".into()
                },
            ]
        );
        // A display string that disagrees with its own figure is caught too.
        let mut shown = want.clone();
        shown["uptime_percent"] = json!("99.999");
        assert_eq!(differences(&want, &shown)[0].field, "uptime_percent");
        // A published report claiming the user-minute formula the log does not support.
        let mut claimed = want.clone();
        claimed["formula"] = json!("user_minutes");
        assert_eq!(
            differences(&want, &claimed),
            vec![Difference {
                field: "formula".into(),
                recomputed: "(missing)".into(),
                published: "\"user_minutes\"".into()
            }]
        );
    }

    #[test]
    fn cells_show_insufficient_data_never_a_figure() {
        let r = json!({"insufficient_data": true, "uptime_ppb": null, "weighted_downtime_permille_seconds": 1500, "credit_percent": 0, "covered_seconds": 10, "counted_seconds": 100});
        assert_eq!(uptime_cell(&r), "insufficient data");
        assert_eq!(downtime_cell(&r), "1.500 s");
        assert_eq!(coverage_cell(&r), "10 / 100 s");
        assert_eq!(
            uptime_cell(&json!({"uptime_ppb": 998_655_000u64})),
            "99.865 %"
        );
        assert_eq!(credit_cell(&json!({})), "-");
    }
}
