//! Reads the trust-as-code from disk: `candor.toml` and the `*.md` files in its content folder.

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::{self, Overrides};
use crate::content::parse_page;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::site::Site;

/// Loads and validates everything; on failure returns every problem found.
pub fn load_site(config_path: &Path, overrides: &Overrides) -> Result<Site, Diagnostics> {
    let mut problems = Diagnostics::default();
    let text = fs::read_to_string(config_path).map_err(|err| {
        let mut d = Diagnostics::default();
        d.push(Diagnostic::in_file(config_path, None, None, format!("cannot read the configuration: {err}; pass --config FILE or run `candor init DIR` to create one")));
        d
    })?;
    let settings = config::resolve(config_path, &text, overrides);
    // Content is checked even when the config has problems, so that one run reports everything.
    let content_dir = match &settings {
        Ok(s) => s.content_dir.clone(),
        Err(_) => config_path
            .parent()
            .map(|p| p.join("content"))
            .unwrap_or_else(|| PathBuf::from("content")),
    };
    let mut pages = Vec::new();
    match list_pages(&content_dir) {
        Err(err) => problems.push(Diagnostic::in_file(
            &content_dir,
            None,
            Some("site.content_dir"),
            format!(
                "cannot read the content folder: {err}; create it or point site.content_dir at it"
            ),
        )),
        Ok(files) => {
            for file in files {
                let slug = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match fs::read_to_string(&file) {
                    Err(err) => problems.push(Diagnostic::in_file(
                        &file,
                        None,
                        None,
                        format!("cannot read: {err}"),
                    )),
                    Ok(text) => match parse_page(&file, &slug, &text) {
                        Ok(page) => pages.push(page),
                        Err(errs) => errs.into_iter().for_each(|d| problems.push(d)),
                    },
                }
            }
            let welcome = content_dir.join("index.md");
            if !welcome.exists() {
                problems.push(Diagnostic::in_file(
                    &welcome,
                    None,
                    None,
                    "missing: the welcome page is required (front matter pillar = \"welcome\")",
                ));
            }
        }
    }
    match settings {
        Ok(settings) if problems.is_empty() => Ok(Site::new(settings, pages)),
        Ok(_) => Err(problems),
        Err(config_problems) => {
            let mut all = config_problems;
            all.0.extend(problems.0);
            Err(all)
        }
    }
}

fn list_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn reports_config_and_content_problems_together() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "candor.toml",
            "version = 1\n[site]\nname = \"A\"\nnope = 1\n",
        );
        fs::create_dir(dir.path().join("content")).unwrap();
        write(
            &dir.path().join("content"),
            "bad.md",
            "+++\ntitle = \"T\"\npillar = \"money\"\nsummary = \"S\"\n+++\n",
        );
        let err = load_site(&dir.path().join("candor.toml"), &Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("nope"), "{text}");
        assert!(text.contains("unknown pillar \"money\""), "{text}");
        assert!(text.contains("index.md: missing"), "{text}");
    }

    #[test]
    fn missing_content_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "candor.toml",
            "version = 1\n[site]\nname = \"A\"\ncontent_dir = \"pages\"\n",
        );
        let err = load_site(&dir.path().join("candor.toml"), &Overrides::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("pages: `site.content_dir`: cannot read the content folder"),
            "{err}"
        );
    }
}
