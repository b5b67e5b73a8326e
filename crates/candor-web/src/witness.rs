//! A C2SP tlog-witness: cosigns checkpoints of the logs it follows, after checking that each one
//! is consistent with the last one it cosigned. Used by `candor witness` and, for the demo, inside
//! `candor serve` under `/witness/`.
//!
//! The witness persists each new checkpoint durably *before* it replies, and the compare (old
//! size) and persist steps happen under one lock, so a log can never get two cosigned,
//! inconsistent checkpoints out of it, even across crashes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use candor_core::Clock;
use candor_tlog::{
    CosignerKey, Ed25519NoteVerifier, Hash, NoteVerifier, SignedCheckpoint, verify_consistency,
};
use sha2::{Digest, Sha256};

/// The largest request the witness reads.
const MAX_BODY: usize = 64 * 1024;
/// The most proof lines a consistency proof can need for a 64-bit tree.
const MAX_PROOF_LINES: usize = 63;

/// Why the witness cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Key or state problems.
    #[error("witness: {0}")]
    Setup(String),
}

/// A running witness.
pub struct Witness {
    key: CosignerKey,
    logs: HashMap<String, Ed25519NoteVerifier>,
    state_dir: PathBuf,
    clock: Arc<dyn Clock>,
    lock: tokio::sync::Mutex<()>,
}

impl Witness {
    /// Opens the witness: its key lives in `state_dir/witness.key` (created, mode 0600, on first
    /// start) and it follows the logs whose verifier keys are given.
    pub fn open(
        state_dir: &Path,
        name: &str,
        follow: &[String],
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Witness>, WitnessError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            WitnessError::Setup(format!("cannot create {}: {e}", state_dir.display()))
        })?;
        let key_path = state_dir.join("witness.key");
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => CosignerKey::from_skey(text.trim())
                .map_err(|e| WitnessError::Setup(format!("{}: {e}", key_path.display())))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key =
                    CosignerKey::generate(name).map_err(|e| WitnessError::Setup(e.to_string()))?;
                crate::log::write_private(&key_path, key.to_skey().as_bytes()).map_err(|e| {
                    WitnessError::Setup(format!("cannot create {}: {e}", key_path.display()))
                })?;
                key
            }
            Err(err) => {
                return Err(WitnessError::Setup(format!(
                    "cannot read {}: {err}",
                    key_path.display()
                )));
            }
        };
        if key.name() != name {
            return Err(WitnessError::Setup(format!(
                "{} is the key of witness \"{}\", not \"{name}\"; one key per witness name",
                key_path.display(),
                key.name()
            )));
        }
        let mut logs = HashMap::new();
        for vkey in follow {
            let verifier = Ed25519NoteVerifier::from_vkey(vkey.trim())
                .map_err(|e| WitnessError::Setup(format!("log key \"{vkey}\": {e}")))?;
            logs.insert(verifier.name().to_owned(), verifier);
        }
        Ok(Arc::new(Witness {
            key,
            logs,
            state_dir: state_dir.to_path_buf(),
            clock,
            lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The witness's cosigner verifier key.
    pub fn vkey(&self) -> String {
        self.key.vkey()
    }

    /// `POST add-checkpoint` and `GET key`, to be mounted under a prefix.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .route(
                "/key",
                get(|State(w): State<Arc<Witness>>| async move { format!("{}\n", w.vkey()) }),
            )
            .with_state(self.clone())
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.state_dir.join(format!(
            "{}.checkpoint",
            hex::encode(Sha256::digest(origin.as_bytes()))
        ))
    }

    /// Handles one add-checkpoint request body.
    pub async fn add(&self, body: &[u8]) -> Response {
        if body.len() > MAX_BODY {
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n");
        }
        let Some((old_size, proof, note)) = parse_request(body) else {
            return reply(
                StatusCode::BAD_REQUEST,
                "malformed request: expected \"old N\", proof lines, an empty line, then the checkpoint\n",
            );
        };
        let signed = match SignedCheckpoint::parse(note) {
            Ok(s) => s,
            Err(e) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    &format!("malformed checkpoint: {e}\n"),
                );
            }
        };
        let cp = signed.checkpoint().clone();
        let Some(verifier) = self.logs.get(&cp.origin) else {
            return reply(
                StatusCode::NOT_FOUND,
                &format!("this witness does not follow the log \"{}\"\n", cp.origin),
            );
        };
        if signed.verify_log(&cp.origin, verifier).is_err() {
            return reply(
                StatusCode::FORBIDDEN,
                "the checkpoint is not signed by the log's key\n",
            );
        }
        if old_size > cp.size {
            return reply(
                StatusCode::BAD_REQUEST,
                "old size is larger than the checkpoint's size\n",
            );
        }
        // Compare and persist under one lock: no interleaving can cosign two forks.
        let _serial = self.lock.lock().await;
        let path = self.state_path(&cp.origin);
        let latest = match std::fs::read(&path) {
            Ok(bytes) => match SignedCheckpoint::parse(&bytes) {
                Ok(s) => Some(s.checkpoint().clone()),
                Err(e) => {
                    tracing::error!(error = %e, file = %path.display(), "witness state is unreadable");
                    return reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "witness state is unreadable\n",
                    );
                }
            },
            Err(_) => None,
        };
        let latest_size = latest.as_ref().map_or(0, |l| l.size);
        if old_size != latest_size {
            let mut response = (StatusCode::CONFLICT, format!("{latest_size}\n")).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/x.tlog.size"),
            );
            return response;
        }
        let consistent = match &latest {
            None => proof.is_empty() && (cp.size != 0 || cp.root == candor_tlog::empty_root()),
            Some(old) => verify_consistency(old.size, cp.size, &old.root, &cp.root, &proof).is_ok(),
        };
        if !consistent {
            return reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the checkpoint is not consistent with the one this witness cosigned before\n",
            );
        }
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0);
        let cosignature = match self.key.cosign(&cp.to_text(), now) {
            Ok(c) => c,
            Err(e) => return reply(StatusCode::BAD_REQUEST, &format!("cannot cosign: {e}\n")),
        };
        if (cp.size > latest_size || latest.is_none())
            && let Err(e) = crate::log::write_atomic(&path, note)
        {
            tracing::error!(error = %e, "witness could not persist its state; not cosigning");
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "witness could not persist its state\n",
            );
        }
        tracing::info!(origin = %cp.origin, size = cp.size, "cosigned a checkpoint");
        reply(StatusCode::OK, &cosignature.to_line())
    }
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    witness.add(&body).await
}

fn reply(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// Splits `old N\n<proof lines>\n\n<note>`.
fn parse_request(body: &[u8]) -> Option<(u64, Vec<Hash>, &[u8])> {
    let split = body.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(&body[..split]).ok()?;
    let note = &body[split + 2..];
    let mut lines = head.split('\n');
    let old = lines.next()?.strip_prefix("old ")?;
    if old.len() > 1 && old.starts_with('0') {
        return None;
    }
    let old_size: u64 = old.parse().ok()?;
    let proof: Vec<Hash> = lines
        .map(|l| Hash::from_base64(l).ok())
        .collect::<Option<_>>()?;
    if proof.len() > MAX_PROOF_LINES {
        return None;
    }
    Some((old_size, proof, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_strictly() {
        let root = Hash([1; 32]).to_base64();
        let body = format!("old 5\n{root}\n{root}\n\nnote text\n");
        let (old, proof, note) = parse_request(body.as_bytes()).unwrap();
        assert_eq!((old, proof.len(), note), (5, 2, &b"note text\n"[..]));
        assert!(parse_request(b"old 05\n\nx").is_none());
        assert!(parse_request(b"old -1\n\nx").is_none());
        assert!(parse_request(b"new 1\n\nx").is_none());
        assert!(parse_request(b"old 1\nnot-base64\n\nx").is_none());
        assert!(parse_request(b"old 1").is_none());
    }
}
