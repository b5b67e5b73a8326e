//! `candor rotate-log`: a new key means a new log. The old log is frozen at its newest signed
//! checkpoint and stays readable under `/log/archive/<id>/`; the new log's entry 0 names it.
//!
//! Files and database change in an order that an interrupted run can finish by running again:
//! 1. the new key is written beside the old one (`<key_file>.next`);
//! 2. the database archives the old log and switches over (resumable, then one transaction);
//! 3. the old key and its high-water file are kept as `*.retired-<id>`, and the new key takes
//!    the configured key file's place.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use candor_core::SystemClock;
use candor_store::{LogStore, Store};
use candor_tlog::{Ed25519NoteSigner, NoteSigner};

use crate::cli::RotateLogArgs;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

fn read_key(path: &Path) -> Result<Ed25519NoteSigner, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    Ed25519NoteSigner::from_skey(text.trim())
        .map_err(|e| format!("cannot parse the key {}: {e}", path.display()))
}

/// Runs `candor rotate-log`.
pub async fn run(args: &RotateLogArgs) -> ExitCode {
    let overrides = args.state.overrides(None);
    let text = match std::fs::read_to_string(&args.state.config) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", args.state.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let settings = match candor_core::config::resolve(&args.state.config, &text, &overrides) {
        Ok(settings) => settings,
        Err(problems) => {
            eprint!("{problems}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) =
        candor_tlog::Checkpoint::new(args.new_origin.clone(), 0, candor_tlog::empty_root())
    {
        eprintln!(
            "error: --new-origin \"{}\" is not a valid log origin: {err}",
            args.new_origin
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
    let result = rotate(&store, &settings.log_key_file, &args.new_origin).await;
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn rotate(store: &Store, key_file: &Path, new_origin: &str) -> Result<(), String> {
    let next_file = suffixed(key_file, ".next");
    let current = read_key(key_file)?;
    if current.name() == new_origin && !next_file.exists() {
        // Either a finished rotation run again, or a mistake.
        let first = store.entries(0, 1).await.map_err(|e| e.to_string())?;
        if first
            .first()
            .is_some_and(|e| e.entry_type == "log.rotation")
        {
            println!(
                "the log already signs for \"{new_origin}\" with {}: nothing to do",
                key_file.display()
            );
            return Ok(());
        }
        return Err(format!(
            "the log already signs for \"{new_origin}\": the new origin must differ from the current one (a new key means a new log)"
        ));
    }
    // 1. The new key, made once and reused by a resumed run.
    let new = if next_file.exists() {
        let new = read_key(&next_file)?;
        if new.name() != new_origin {
            return Err(format!(
                "an interrupted rotation to \"{}\" left {}; finish it with --new-origin {} (or delete that file to start over)",
                new.name(),
                next_file.display(),
                new.name()
            ));
        }
        new
    } else {
        let new = Ed25519NoteSigner::generate(new_origin)
            .map_err(|e| format!("cannot make a key for \"{new_origin}\": {e}"))?;
        candor_web::log::write_private(&next_file, new.to_skey().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", next_file.display()))?;
        new
    };
    // 2. The database, unless an earlier run already switched it over.
    let old_origin = current.name().to_owned();
    let archives = store.archives().await.map_err(|e| e.to_string())?;
    let archive_id = match archives
        .iter()
        .find(|a| a.complete && a.origin == old_origin)
    {
        Some(done) => done.id,
        None => {
            let rotation = candor_web::log::rotate(store, &current, new_origin, &SystemClock)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "archived the log \"{}\" at size {} as /log/archive/{}/; {} entries sequenced after its last checkpoint move to the new log",
                rotation.old_origin,
                rotation.archived_size,
                rotation.archive_id,
                rotation.carried_over
            );
            rotation.archive_id
        }
    };
    // 3. Keep the old key and high-water file for the record; put the new key in place.
    let retired = format!(".retired-{archive_id}");
    let retired_key = suffixed(key_file, &retired);
    if !retired_key.exists() {
        std::fs::hard_link(key_file, &retired_key)
            .map_err(|e| format!("cannot keep the old key as {}: {e}", retired_key.display()))?;
    }
    let highwater = suffixed(key_file, ".checkpoint");
    if highwater.exists() {
        std::fs::rename(&highwater, suffixed(&highwater, &retired))
            .map_err(|e| format!("cannot retire {}: {e}", highwater.display()))?;
    }
    std::fs::rename(&next_file, key_file)
        .map_err(|e| format!("cannot move the new key into {}: {e}", key_file.display()))?;
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
    }
    eprintln!(
        "the new log \"{new_origin}\" is signed by {}; the old key is kept as {} (destroy it when you no longer need it)",
        key_file.display(),
        retired_key.display()
    );
    eprintln!(
        "next: set `origin = \"{new_origin}\"` under [log] in candor.toml, give the new verifier key to your witnesses and \
         verifiers, then start candor"
    );
    println!("{}", new.vkey());
    Ok(())
}
