//! `candor sla --period 2026-10 [--component X] [--format table|json|csv]`: the SLA report of
//! a month or quarter, computed from the database exactly as the status page and the API
//! compute it.

use std::process::ExitCode;

use candor_core::uptime::{ComponentReport, minutes_display, percent_from_ppb};
use candor_store::Store;
use time::OffsetDateTime;

use crate::cli::SlaArgs;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// Runs `candor sla`.
pub async fn run(args: &SlaArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.state.config) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", args.state.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let settings = match candor_core::config::resolve(
        &args.state.config,
        &text,
        &args.state.overrides(None),
    ) {
        Ok(s) => s,
        Err(problems) => {
            eprint!("{problems}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let format = args.format.as_str();
    if !matches!(format, "table" | "json" | "csv") {
        eprintln!("error: --format \"{format}\" is not a format; use table, json or csv");
        return ExitCode::from(EXIT_CONFIG);
    }
    let components: Vec<String> = match &args.component {
        Some(c) => vec![c.clone()],
        None => settings
            .status
            .components
            .iter()
            .map(|c| c.id.clone())
            .collect(),
    };
    if components.is_empty() {
        eprintln!(
            "error: {} declares no [[components]]; there is nothing to report on",
            args.state.config.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let store = match Store::open(&settings.database).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut reports = Vec::new();
    for id in &components {
        match candor_web::monitoring::load_report(&store, &settings.status, id, &args.period, now)
            .await
        {
            Ok(r) => reports.push(r),
            Err(err) => {
                store.close().await;
                eprintln!("error: {err}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    store.close().await;
    let out = match format {
        "json" => json(&reports),
        "csv" => csv(&reports),
        _ => table(&reports),
    };
    print!("{out}");
    ExitCode::SUCCESS
}

fn json(reports: &[ComponentReport]) -> String {
    let values: Vec<serde_json::Value> = reports.iter().map(ComponentReport::to_json).collect();
    let value = if values.len() == 1 {
        values.into_iter().next().unwrap_or_default()
    } else {
        serde_json::Value::Array(values)
    };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    )
}

fn csv(reports: &[ComponentReport]) -> String {
    let mut out = String::from(
        "component,period,time_zone,complete,uptime_percent,downtime_minutes,error_budget_left_minutes,credit_percent,coverage_percent,insufficient_data,target_met,incidents,maintenances\n",
    );
    for r in reports {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.component_id,
            r.period_label,
            r.time_zone,
            r.complete,
            r.report
                .uptime_ppb
                .map(percent_from_ppb)
                .unwrap_or_default(),
            minutes_display(r.report.weighted_downtime_permille_seconds),
            minutes_display(r.report.error_budget_left_permille_seconds),
            r.report.credit_percent,
            r.coverage_percent(),
            r.report.insufficient_data,
            r.report.target_met,
            r.incidents
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            r.maintenances
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    out
}

fn table(reports: &[ComponentReport]) -> String {
    let mut rows = vec![[
        "COMPONENT".to_owned(),
        "PERIOD".to_owned(),
        "UPTIME".to_owned(),
        "DOWNTIME (MIN)".to_owned(),
        "BUDGET LEFT (MIN)".to_owned(),
        "CREDIT".to_owned(),
        "COVERAGE".to_owned(),
        "INCIDENTS".to_owned(),
    ]];
    for r in reports {
        let period = if r.complete {
            r.period_label.clone()
        } else {
            format!("{} (so far)", r.period_label)
        };
        rows.push([
            r.component_id.clone(),
            period,
            r.uptime_display(),
            minutes_display(r.report.weighted_downtime_permille_seconds),
            minutes_display(r.report.error_budget_left_permille_seconds),
            format!("{} %", r.report.credit_percent),
            format!("{} %", r.coverage_percent()),
            r.incidents.len().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|k| {
            rows.iter()
                .map(|row| row[k].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if let Some(r) = reports.first() {
        out.push_str(&format!(
            "\nPeriods are cut in {}; target {} % under the \"{}\" policy; downtime is weighted by impact.\n",
            r.time_zone,
            percent_from_ppb(u64::from(r.target_ppm) * 1000),
            r.policy_id,
        ));
    }
    for r in reports {
        if let (Some(users), Some(down)) = (
            r.report.formula.users(),
            r.report.weighted_downtime_permille_user_seconds,
        ) {
            let counted = i128::from(r.report.counted_seconds) * i128::from(users) * 1000;
            out.push_str(&format!(
                "{}: user-minute formula, {users} users: {} of {} user-minutes down (downtime above is per user).\n",
                r.component_id,
                minutes_display(down),
                minutes_display(i64::try_from(counted).unwrap_or(i64::MAX)),
            ));
        }
    }
    out
}
