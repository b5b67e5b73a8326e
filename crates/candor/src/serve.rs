//! `candor serve` and `candor check-config`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use candor_core::SystemClock;
use candor_core::config::WitnessTarget;
use candor_core::load::load_site;
use candor_store::Store;
use candor_web::log::{LogService, WitnessEndpoint};
use candor_web::witness::Witness;
use candor_web::{App, PublishError};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::{KeygenArgs, ServeArgs, StateArgs};
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// Validates the trust-as-code and prints every problem; exit 0 when all is well.
pub fn check_config(args: &StateArgs) -> ExitCode {
    match load_site(
        &args.config,
        &args.overrides(std::env::var("CANDOR_LISTEN").ok()),
    ) {
        Ok(site) => {
            let s = &site.settings;
            println!("{}: OK", args.config.display());
            println!("  site:       {} ({} pages)", s.site_name, site.pages.len());
            println!("  public URL: {}", s.public_url.as_str());
            println!("  listen:     {}", s.listen);
            println!("  database:   {}", s.database);
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprint!("{problems}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// `candor keygen`: writes a new signing key and prints the verifier key.
pub fn keygen(args: &KeygenArgs) -> ExitCode {
    let (origin, out) = match (&args.origin, &args.out) {
        (Some(origin), Some(out)) => (origin.clone(), out.clone()),
        _ => {
            let overrides = args.state.overrides(None);
            let text = match std::fs::read_to_string(&args.state.config) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!(
                        "error: cannot read {}: {err}; pass --origin and --out, or --config",
                        args.state.config.display()
                    );
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            match candor_core::config::resolve(&args.state.config, &text, &overrides) {
                Ok(s) => (
                    args.origin.clone().unwrap_or(s.log_origin),
                    args.out.clone().unwrap_or(s.log_key_file),
                ),
                Err(problems) => {
                    eprint!("{problems}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
    };
    if out.exists() {
        eprintln!(
            "error: {} already exists; keygen never overwrites a key (a log's key never changes)",
            out.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let signer = match candor_tlog::Ed25519NoteSigner::generate(&origin) {
        Ok(signer) => signer,
        Err(err) => {
            eprintln!("error: cannot make a key for origin \"{origin}\": {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = candor_web::log::write_private(&out, signer.to_skey().as_bytes()) {
        eprintln!("error: cannot write {}: {err}", out.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    eprintln!(
        "wrote the signing key for \"{origin}\" to {} (mode 0600); keep it secret and never commit it",
        out.display()
    );
    println!("{}", signer.vkey());
    ExitCode::SUCCESS
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> ExitCode {
    let overrides = args.state.overrides(args.listen.clone());
    let site = match load_site(&args.state.config, &overrides) {
        Ok(site) => site,
        Err(problems) => {
            eprint!("{problems}");
            eprintln!(
                "Candor did not start; fix the problems above (`candor check-config` checks without starting)."
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let settings = site.settings.clone();
    let store = match Store::open(&settings.database).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let listener = match TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            let hint = match err.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "another process (perhaps another candor) is using it; stop it or choose another address with --listen"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need privileges; choose a higher port with --listen"
                }
                _ => "choose another address with --listen",
            };
            eprintln!("error: cannot listen on {}: {err}; {hint}", settings.listen);
            store.close().await;
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let clock: Arc<dyn candor_core::Clock> = Arc::new(SystemClock);
    let default_key = settings.log_key_file == settings.data_dir.join("log-signing.key");
    let log = match open_log(&settings, store.clone(), clock.clone(), default_key).await {
        Ok(log) => log,
        Err(err) => {
            eprintln!("error: {err}");
            store.close().await;
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let witness = match &settings.embedded_witness {
        None => None,
        Some(w) => {
            let mut follow = w.follow.clone();
            if w.follow_own_log {
                follow.push(log.vkey());
            }
            match Witness::open(
                &settings.data_dir.join("witness"),
                &w.name,
                &follow,
                clock.clone(),
            ) {
                Ok(witness) => Some(witness),
                Err(err) => {
                    eprintln!("error: {err}");
                    store.close().await;
                    return ExitCode::from(EXIT_FAILURE);
                }
            }
        }
    };
    let mut endpoints = Vec::new();
    for target in &settings.witnesses {
        match target {
            WitnessTarget::Builtin => {
                if let Some(w) = &witness {
                    endpoints.push(WitnessEndpoint::Builtin(w.clone()));
                }
            }
            WitnessTarget::Remote { url, vkey } => {
                match candor_tlog::CosignatureVerifier::from_vkey(vkey) {
                    Ok(verifier) => endpoints.push(WitnessEndpoint::Remote {
                        url: url.clone(),
                        verifier: Box::new(verifier),
                    }),
                    Err(err) => {
                        eprintln!(
                            "error: log.witnesses: \"{vkey}\" is not a witness verifier key: {err}"
                        );
                        store.close().await;
                        return ExitCode::from(EXIT_CONFIG);
                    }
                }
            }
        }
    }
    if let Err(err) = log
        .check_witnesses_at_start(&endpoints, std::time::Duration::from_secs(3))
        .await
    {
        eprintln!("error: {err}");
        store.close().await;
        return ExitCode::from(EXIT_FAILURE);
    }
    if let Err(err) = log.sign_if_grown().await {
        eprintln!("error: cannot sign the log's checkpoint: {err}");
        store.close().await;
        return ExitCode::from(EXIT_FAILURE);
    }
    // Only now may the background loop sign: the witnesses had their say.
    log.spawn();
    log.spawn_witnessing(endpoints);
    let outbox =
        match candor_mail::Outbox::from_settings(store.clone(), &settings.mail, clock.clone()) {
            Ok(outbox) => outbox,
            Err(err) => {
                eprintln!("error: outgoing mail: {err}");
                store.close().await;
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    let mailer: Arc<dyn candor_web::Mailer> = Arc::new(OutboxMailer(outbox));
    let app = match App::start(
        site,
        overrides,
        store.clone(),
        clock.clone(),
        log.clone(),
        mailer,
    )
    .await
    {
        Ok(app) => app,
        Err(err) => {
            eprintln!("error: cannot publish the trust center: {err}");
            store.close().await;
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    spawn_audit_digests(store.clone(), log.clone());
    if let Some(target) = settings.demo_target.clone()
        && let Err(err) = crate::demo_target::start(target).await
    {
        // A demo aid, not part of the trust center: its monitors will report it down.
        tracing::warn!(error = %err, "the demo target did not start");
    }
    let _scheduler =
        match start_monitoring(&app, &settings, store.clone(), clock, log.clone()).await {
            Ok(scheduler) => scheduler,
            Err(err) => {
                eprintln!("error: monitoring: {err}");
                store.close().await;
                return ExitCode::from(EXIT_FAILURE);
            }
        };
    let local = listener.local_addr().unwrap_or(settings.listen);
    tracing::info!(
        site = %settings.site_name,
        public_url = %settings.public_url.as_str(),
        listen = %local,
        database = %settings.database,
        pages = app.published().site.pages.len(),
        log.origin = %log.origin(),
        log.vkey = %log.vkey(),
        "Candor is serving the trust center"
    );
    tokio::spawn(reload_on_sighup(app.clone()));
    let mut router = app.router();
    if let Some(w) = &witness {
        tracing::info!(witness.vkey = %w.vkey(), "embedded witness at /witness/add-checkpoint");
        router = router.nest("/witness", w.router());
    }
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    store.close().await;
    match served {
        Ok(()) => {
            tracing::info!("Candor stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Starts the monitoring engine and the probe scheduler (which runs until it is dropped).
async fn start_monitoring(
    app: &Arc<App>,
    settings: &candor_core::config::Settings,
    store: Store,
    clock: Arc<dyn candor_core::Clock>,
    log: Arc<LogService>,
) -> Result<Arc<candor_probe::Scheduler>, String> {
    let weak = Arc::downgrade(app);
    let on_change: candor_web::monitoring::OnChange = Arc::new(move || {
        if let Some(app) = weak.upgrade() {
            app.status_changed();
        }
    });
    // The SLA policies in force are facts too: recorded once per version.
    match candor_web::sla_policy::record_policies(&store, &settings.status, clock.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(policies = n, "recorded SLA policies in the log"),
        Err(err) => return Err(format!("recording the SLA policies: {err}")),
    }
    let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || log.wake());
    // Monitors made through the API run beside those of candor.toml.
    let api = candor_web::monitors_api::load(&store, &settings.status)
        .await
        .map_err(|e| format!("reading the monitors made through the API: {e}"))?;
    let running = candor_web::monitors_api::merged(&settings.status, &api);
    let monitoring = candor_web::monitoring::start(
        store,
        running.clone(),
        candor_web::monitors_api::tokens(&api),
        &settings.data_dir,
        clock.clone(),
        on_change,
        wake,
    )
    .await?;
    let prober = candor_probe::Prober::new(candor_probe::ProbeOptions::default())
        .map_err(|e| e.to_string())?;
    let scheduler = candor_probe::Scheduler::spawn(
        running.monitors.clone(),
        monitoring.sender(),
        Arc::new(prober),
        clock,
        candor_probe::SchedulerOptions::default(),
    );
    if !running.monitors.is_empty() {
        tracing::info!(
            monitors = running.monitors.len(),
            from_api = api.len(),
            "monitors scheduled"
        );
    }
    let scheduler = Arc::new(scheduler);
    monitoring.attach_scheduler(&scheduler);
    app.attach_monitoring(monitoring);
    let watched = Arc::downgrade(&scheduler);
    let gauges = Arc::downgrade(app);
    // Schedule health on /metrics: how late probes start, and how many were skipped.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            let (Some(scheduler), Some(app)) = (watched.upgrade(), gauges.upgrade()) else {
                return;
            };
            let slip = scheduler.slip_snapshot();
            app.set_gauge("candor_probe_slip_p99_seconds", slip.p99.as_secs_f64());
            app.set_gauge("candor_probe_slip_max_seconds", slip.max.as_secs_f64());
            app.set_gauge("candor_probe_started", scheduler.started() as f64);
            app.set_gauge("candor_probe_skipped", scheduler.skipped() as f64);
        }
    });
    Ok(scheduler)
}

async fn reload_on_sighup(app: Arc<App>) {
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload through the API instead");
        return;
    };
    while hangups.recv().await.is_some() {
        match app.reload().await {
            Ok(report) => {
                tracing::info!(pages = report.pages, "content reloaded on SIGHUP");
                for key in report.restart_required_for {
                    tracing::warn!(
                        key,
                        "this setting changed but takes effect only after a restart"
                    );
                }
            }
            Err(PublishError::Invalid(problems)) => {
                for problem in problems.iter() {
                    tracing::warn!(problem = %problem, "reload rejected; still serving the previous content");
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "reload failed; still serving the previous content")
            }
        }
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The web layer's mail goes through the persistent outbox.
struct OutboxMailer(candor_mail::Outbox<Store>);

impl candor_web::Mailer for OutboxMailer {
    fn send<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        text: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .send(&candor_mail::Mail::new(to, subject, text))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Commits the audit trail to the log once a minute (one `digest.batch` entry per minute with
/// events, however many there were), and once more at start for events from before a crash.
fn spawn_audit_digests(store: Store, log: Arc<LogService>) {
    use candor_store::identity::Identity;
    tokio::spawn(async move {
        loop {
            match store.digest_audit(time::OffsetDateTime::now_utc()).await {
                Ok(Some((seq, events))) => {
                    tracing::debug!(log.index = seq, events, "committed audit events to the log");
                    log.wake();
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(error = %err, "committing audit events to the log failed; will retry")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    });
}

async fn open_log(
    settings: &candor_core::config::Settings,
    store: Store,
    clock: Arc<dyn candor_core::Clock>,
    create_key: bool,
) -> Result<Arc<LogService>, candor_web::log::LogError> {
    let signer = candor_web::log::load_or_create_key(
        &settings.log_key_file,
        &settings.log_origin,
        settings.log_origin_explicit,
        create_key,
    )?;
    let origin = candor_tlog::NoteSigner::name(&signer).to_owned();
    let highwater =
        std::path::PathBuf::from(format!("{}.checkpoint", settings.log_key_file.display()));
    LogService::open(store, clock, origin, signer, highwater).await
}

/// `candor witness`: a standalone witness server.
pub async fn witness(args: crate::cli::WitnessArgs) -> ExitCode {
    let clock: Arc<dyn candor_core::Clock> = Arc::new(SystemClock);
    let witness = match Witness::open(&args.state_dir, &args.name, &args.follow, clock) {
        Ok(w) => w,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listener = match TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!(
                "error: cannot listen on {}: {err}; choose another address with --listen",
                args.listen
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(listen = %local, name = %args.name, vkey = %witness.vkey(), logs = args.follow.len(), "Candor witness is running");
    println!("{}", witness.vkey());
    match axum::serve(listener, witness.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "witness server failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
