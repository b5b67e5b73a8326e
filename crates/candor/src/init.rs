//! `candor init DIR`: a new, valid, commented trust-as-code skeleton.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

const FILES: &[(&str, &str)] = &[
    ("candor.toml", include_str!("skeleton/candor.toml")),
    (
        "content/index.md",
        include_str!("skeleton/content/index.md"),
    ),
    (
        "content/security.md",
        include_str!("skeleton/content/security.md"),
    ),
    (
        "content/encryption.md",
        include_str!("skeleton/content/encryption.md"),
    ),
    (
        "content/privacy.md",
        include_str!("skeleton/content/privacy.md"),
    ),
    (
        "content/compliance.md",
        include_str!("skeleton/content/compliance.md"),
    ),
    (
        "content/operations.md",
        include_str!("skeleton/content/operations.md"),
    ),
    (
        ".gitignore",
        "# State written by `candor serve`; never commit it (it will hold signing keys).\n/data/\n",
    ),
];

/// Writes the skeleton; refuses to overwrite an existing trust center.
pub fn run(args: &InitArgs) -> ExitCode {
    match write_skeleton(&args.dir) {
        Ok(()) => {
            let dir = args.dir.display();
            println!("Created a new trust center in {dir}.");
            println!("Next: edit {dir}/candor.toml and {dir}/content/*.md, then run");
            println!("  candor check-config --config {dir}/candor.toml");
            println!("  candor serve --config {dir}/candor.toml");
            ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

fn write_skeleton(dir: &Path) -> Result<(), (u8, String)> {
    let config = dir.join("candor.toml");
    if config.exists() {
        return Err((
            EXIT_CONFIG,
            format!(
                "{} already exists; init never overwrites a trust center",
                config.display()
            ),
        ));
    }
    for (name, _) in FILES {
        let path = dir.join(name);
        if path.exists() {
            return Err((
                EXIT_CONFIG,
                format!(
                    "{} already exists; init never overwrites files",
                    path.display()
                ),
            ));
        }
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                (
                    EXIT_FAILURE,
                    format!("cannot create {}: {e}", parent.display()),
                )
            })?;
        }
        std::fs::write(&path, text).map_err(|e| {
            (
                EXIT_FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    Ok(())
}
