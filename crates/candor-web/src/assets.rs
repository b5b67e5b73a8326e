//! The stylesheet and icon, embedded in the binary and served under fingerprinted URLs so they
//! can be cached forever.

use sha2::{Digest, Sha256};

/// The portal stylesheet.
pub const CSS: &str = include_str!("../assets/candor.css");
/// The site icon.
pub const ICON_SVG: &str = include_str!("../assets/candor.svg");

/// Fingerprints of the embedded assets.
#[derive(Debug, Clone)]
pub struct Assets {
    css_fingerprint: String,
    icon_fingerprint: String,
}

impl Default for Assets {
    fn default() -> Self {
        Assets {
            css_fingerprint: fingerprint(CSS.as_bytes()),
            icon_fingerprint: fingerprint(ICON_SVG.as_bytes()),
        }
    }
}

impl Assets {
    /// `/assets/candor-<hash>.css`
    pub fn css_href(&self) -> String {
        format!("/assets/candor-{}.css", self.css_fingerprint)
    }
    /// `/assets/candor-<hash>.svg`
    pub fn icon_href(&self) -> String {
        format!("/assets/candor-{}.svg", self.icon_fingerprint)
    }
}

fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..6])
}
