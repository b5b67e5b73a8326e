//! The command line: help, init, check-config and every kind of bad input at start-up.

use std::net::TcpListener;

use crate::support::{BIN, Output, acme_copy, candor, page, run_with_timeout, tiny_site, write};

fn config_arg(dir: &std::path::Path) -> String {
    dir.join("candor.toml").display().to_string()
}

fn check(dir: &std::path::Path) -> Output {
    candor(&["check-config", "--config", &config_arg(dir)], &[])
}

#[test]
fn version_and_help_read_well() {
    let v = candor(&["--version"], &[]);
    assert!(v.status.success());
    assert_eq!(
        v.stdout.trim(),
        format!("candor {}", env!("CARGO_PKG_VERSION"))
    );
    let h = candor(&["--help"], &[]);
    for word in [
        "serve",
        "init",
        "check-config",
        "trust center",
        "--log-format",
    ] {
        assert!(h.stdout.contains(word), "--help lacks {word}: {}", h.stdout);
    }
    let s = candor(&["serve", "--help"], &[]);
    for word in [
        "--config",
        "--listen",
        "--data-dir",
        "CANDOR_LISTEN",
        "CANDOR_DATA_DIR",
        "CANDOR_CONFIG",
    ] {
        assert!(
            s.stdout.contains(word),
            "serve --help lacks {word}: {}",
            s.stdout
        );
    }
}

#[test]
fn the_demo_and_a_fresh_skeleton_are_valid() {
    let demo = acme_copy();
    let out = check(demo.path());
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("22 pages"), "{}", out.stdout);

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("trust");
    let out = candor(&["init", target.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", out.stderr);
    let config = std::fs::read_to_string(target.join("candor.toml")).unwrap();
    assert!(
        config
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 10,
        "the skeleton should be commented"
    );
    let out = check(&target);
    assert!(
        out.status.success(),
        "fresh skeleton must validate: {}",
        out.stderr
    );

    // Never overwrites.
    std::fs::write(target.join("content/index.md"), "edited").unwrap();
    let again = candor(&["init", target.to_str().unwrap()], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(target.join("content/index.md")).unwrap(),
        "edited"
    );
}

#[test]
fn malformed_toml_names_file_and_line() {
    let dir = tiny_site();
    write(
        dir.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\n",
    );
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("candor.toml:3"), "{}", out.stderr);
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tiny_site();
    write(
        dir.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\"\n\n[server]\nlisten = \"127.0.0.1:8080\"\nworkers = 4\n",
    );
    write(
        dir.path(),
        "content/pricing.md",
        &page("Pricing", "sales", "Our prices.", "x"),
    );
    write(
        dir.path(),
        "content/keys.md",
        "+++\ntitle = \"Keys\"\npillar = \"security\"\n",
    );
    write(
        dir.path(),
        "content/status.md",
        &page("Status", "operations", "Status.", "x"),
    );
    write(
        dir.path(),
        "content/extra.md",
        "+++\ntitle = \"X\"\npillar = \"security\"\nsummary = \"S\"\nauthor = \"me\"\n+++\n",
    );
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let err = &out.stderr;
    assert!(
        err.contains("candor.toml:7") && err.contains("workers"),
        "unknown key with its line: {err}"
    );
    assert!(
        err.contains("pricing.md:3") && err.contains("unknown pillar \"sales\""),
        "unknown pillar: {err}"
    );
    assert!(
        err.contains("keys.md") && err.contains("not closed"),
        "unclosed front matter: {err}"
    );
    assert!(
        err.contains("status.md") && err.contains("shadow the route /status"),
        "shadowing: {err}"
    );
    assert!(
        err.contains("extra.md:5") && err.contains("author"),
        "unknown front-matter key: {err}"
    );
    assert!(err.contains("5 problems"), "{err}");
}

#[test]
fn missing_content_is_named() {
    let dir = tiny_site();
    std::fs::remove_file(dir.path().join("content/index.md")).unwrap();
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("index.md: missing"), "{}", out.stderr);

    std::fs::remove_dir_all(dir.path().join("content")).unwrap();
    let out = check(dir.path());
    assert!(
        out.stderr.contains("cannot read the content folder"),
        "{}",
        out.stderr
    );

    let out = candor(
        &["check-config", "--config", "/nonexistent/candor.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.contains("/nonexistent/candor.toml") && out.stderr.contains("candor init"),
        "{}",
        out.stderr
    );
}

#[test]
fn serve_refuses_a_broken_config() {
    let dir = tiny_site();
    write(
        dir.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\"\ncolour = \"blue\"\n",
    );
    let out = candor(
        &[
            "serve",
            "--config",
            &config_arg(dir.path()),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.contains("colour") && out.stderr.contains("did not start"),
        "{}",
        out.stderr
    );
}

#[test]
fn public_url_is_required_off_loopback() {
    let dir = tiny_site();
    let out = candor(
        &[
            "serve",
            "--config",
            &config_arg(dir.path()),
            "--listen",
            "0.0.0.0:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.contains("site.public_url") && out.stderr.contains("not a loopback"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_port_in_use_is_explained() {
    let dir = tiny_site();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = candor(
        &[
            "serve",
            "--config",
            &config_arg(dir.path()),
            "--listen",
            &addr,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains(&format!("cannot listen on {addr}")) && out.stderr.contains("--listen"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_postgres_is_explained_without_the_password() {
    let dir = tiny_site();
    let port = crate::support::free_port();
    let url = format!("postgres://candor:s3cret-pw@127.0.0.1:{port}/candor");
    let out = candor(
        &[
            "serve",
            "--config",
            &config_arg(dir.path()),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("CANDOR_DATABASE_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "PostgreSQL at postgres://candor:***@127.0.0.1:{port}/candor"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("s3cret-pw"),
        "password leaked: {}",
        out.stderr
    );
}

#[test]
fn an_unwritable_data_directory_is_explained() {
    let dir = tiny_site();
    let data = dir.path().join("readonly");
    std::fs::create_dir(&data).unwrap();
    let mut cmd;
    let is_root = run_with_timeout({
        let mut c = std::process::Command::new("id");
        c.arg("-u");
        c
    })
    .stdout
    .trim()
        == "0";
    if is_root {
        // Root can write anywhere, so run candor as an unprivileged user.
        use std::os::unix::fs::PermissionsExt;
        for p in [dir.path(), &dir.path().join("content")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for f in std::fs::read_dir(dir.path().join("content")).unwrap() {
            std::fs::set_permissions(f.unwrap().path(), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        std::fs::set_permissions(
            dir.path().join("candor.toml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
        cmd = std::process::Command::new(BIN);
    }
    cmd.args([
        "serve",
        "--config",
        &config_arg(dir.path()),
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(&data);
    cmd.env_remove("CANDOR_DATABASE_URL");
    let out = run_with_timeout(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("is not writable") && out.stderr.contains("--data-dir"),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read_dir(&data).unwrap().next().is_none(),
        "nothing may be written"
    );
}
