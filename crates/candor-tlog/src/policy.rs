//! C2SP tlog-policy: which logs are trusted and which witnesses must cosign (k-of-n groups), and
//! evaluation of a policy against a cosigned checkpoint.

use std::collections::{HashMap, HashSet};

use thiserror::Error;

use crate::checkpoint::SignedCheckpoint;
use crate::cosignature::{CosignatureV1, CosignatureVerifier};
use crate::encoding::excerpt;
use crate::keys::{Ed25519NoteVerifier, KeyError};
use crate::note::{NoteError, NoteVerifier};

/// Largest policy file accepted, in bytes.
pub const MAX_POLICY_SIZE: usize = 1 << 20;
/// Most logs, witnesses or groups accepted (the spec recommends supporting at least 32).
pub const MAX_POLICY_ITEMS: usize = 1024;

/// Why a policy is malformed or a checkpoint does not satisfy it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The file is too large.
    #[error("policy is {size} bytes, larger than the {max}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A forbidden byte (control character other than tab and newline).
    #[error(
        "policy line {line}: byte 0x{byte:02x} is not allowed (only tab, newline, printable ASCII and bytes >= 0x80)"
    )]
    Character {
        /// 1-based line number.
        line: usize,
        /// The byte.
        byte: u8,
    },
    /// A line is not UTF-8 (this implementation requires UTF-8 outside comments).
    #[error("policy line {line} is not valid UTF-8")]
    NotUtf8 {
        /// 1-based line number.
        line: usize,
    },
    /// Unknown keyword.
    #[error(
        "policy line {line}: unknown keyword {keyword:?} (expected log, witness, group or quorum)"
    )]
    UnknownKeyword {
        /// 1-based line number.
        line: usize,
        /// The keyword.
        keyword: String,
    },
    /// Wrong number of fields.
    #[error("policy line {line}: expected {expected}")]
    Fields {
        /// 1-based line number.
        line: usize,
        /// The expected shape.
        expected: &'static str,
    },
    /// A key is invalid.
    #[error("policy line {line}: {source}")]
    Key {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the key.
        source: KeyError,
    },
    /// Two logs or two witnesses share a public key.
    #[error("policy line {line}: duplicate {kind} public key (already on line {first_line})")]
    DuplicateKey {
        /// 1-based line number.
        line: usize,
        /// "log" or "witness".
        kind: &'static str,
        /// Line of the first definition.
        first_line: usize,
    },
    /// A name is defined twice (witnesses and groups share one namespace).
    #[error("policy line {line}: name {name:?} is already defined")]
    DuplicateName {
        /// 1-based line number.
        line: usize,
        /// The name.
        name: String,
    },
    /// The reserved name `none` was used for a witness, group or group member.
    #[error("policy line {line}: the name \"none\" is reserved")]
    ReservedName {
        /// 1-based line number.
        line: usize,
    },
    /// A name used before being defined.
    #[error("policy line {line}: {name:?} is not defined on an earlier line")]
    UndefinedName {
        /// 1-based line number.
        line: usize,
        /// The name.
        name: String,
    },
    /// A group lists the same member twice.
    #[error("policy line {line}: {name:?} is listed twice in the group")]
    DuplicateMember {
        /// 1-based line number.
        line: usize,
        /// The member.
        name: String,
    },
    /// Bad group threshold.
    #[error(
        "policy line {line}: threshold {text:?} must be all, any or a decimal k with 1 <= k <= {members}"
    )]
    Threshold {
        /// 1-based line number.
        line: usize,
        /// The threshold text.
        text: String,
        /// Number of members.
        members: usize,
    },
    /// More than one quorum line.
    #[error("policy line {line}: a second quorum line (first on line {first_line})")]
    DuplicateQuorum {
        /// 1-based line number.
        line: usize,
        /// Line of the first quorum.
        first_line: usize,
    },
    /// No quorum line.
    #[error("policy has no quorum line")]
    MissingQuorum,
    /// Too many logs, witnesses or groups.
    #[error("policy line {line}: more than {max} {kind}")]
    TooMany {
        /// 1-based line number.
        line: usize,
        /// "logs", "witnesses" or "groups".
        kind: &'static str,
        /// The limit.
        max: usize,
    },
    /// No log in the policy has the checkpoint's origin as key name.
    #[error("checkpoint origin {origin:?} is not a log in the policy")]
    UnknownLog {
        /// The origin.
        origin: String,
    },
    /// A signature on the checkpoint failed.
    #[error("checkpoint signature check failed: {0}")]
    Note(#[from] NoteError),
    /// The log did not sign the checkpoint.
    #[error("checkpoint has no valid signature from log {origin:?}")]
    MissingLogSignature {
        /// The origin.
        origin: String,
    },
    /// Not enough witnesses cosigned.
    #[error("witness quorum {quorum:?} not met; valid cosignatures from: [{cosigned}]")]
    QuorumNotMet {
        /// Quorum name.
        quorum: String,
        /// Witnesses whose cosignatures verified.
        cosigned: String,
    },
}

/// A trusted log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// Log key; its name is the log's origin.
    pub verifier: Ed25519NoteVerifier,
    /// Optional URL.
    pub url: Option<String>,
}

/// A known witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Name used inside the policy.
    pub name: String,
    /// Cosigner key (`cosignature/v1`, type 0x04).
    pub verifier: CosignatureVerifier,
    /// Optional URL (tlog-witness submission prefix).
    pub url: Option<String>,
}

/// A member of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member {
    /// Index into [`Policy::witnesses`].
    Witness(usize),
    /// Index into [`Policy::groups`].
    Group(usize),
}

/// A k-of-n group of witnesses and earlier groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Group name.
    pub name: String,
    /// How many members must be satisfied (1 ≤ k ≤ n).
    pub threshold: usize,
    /// Members, each listed once.
    pub members: Vec<Member>,
}

/// The quorum rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// No cosignatures required (`quorum none`).
    None,
    /// One witness or group must be satisfied.
    Member(Member),
}

/// A parsed tlog-policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Trusted logs.
    pub logs: Vec<PolicyLog>,
    /// Known witnesses.
    pub witnesses: Vec<PolicyWitness>,
    /// Witness groups, in definition order (members always refer to earlier entries).
    pub groups: Vec<PolicyGroup>,
    /// The quorum.
    pub quorum: Quorum,
}

/// What a successful policy check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVerified {
    /// Index into [`Policy::logs`] of the log that signed.
    pub log: usize,
    /// Witnesses (indices into [`Policy::witnesses`]) whose cosignatures verified, with their
    /// timestamps.
    pub cosignatures: Vec<(usize, u64)>,
}

impl Policy {
    /// Parses a policy file.
    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        if bytes.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge {
                size: bytes.len(),
                max: MAX_POLICY_SIZE,
            });
        }
        let mut logs: Vec<(PolicyLog, usize)> = Vec::new();
        let mut witnesses: Vec<(PolicyWitness, usize)> = Vec::new();
        let mut groups: Vec<PolicyGroup> = Vec::new();
        let mut names: HashMap<String, Member> = HashMap::new();
        let mut quorum: Option<(Quorum, usize)> = None;

        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            if let Some(&byte) = raw.iter().find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(PolicyError::Character { line, byte });
            }
            let trimmed = raw.trim_ascii_start();
            if trimmed.is_empty() || trimmed.starts_with(b"#") {
                continue;
            }
            let text = std::str::from_utf8(raw).map_err(|_| PolicyError::NotUtf8 { line })?;
            let fields: Vec<&str> = text.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            let Some((&keyword, args)) = fields.split_first() else {
                continue;
            };
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [vkey] => (*vkey, None),
                        [vkey, url] => (*vkey, Some((*url).to_owned())),
                        _ => {
                            return Err(PolicyError::Fields {
                                line,
                                expected: "log <vkey> [<url>]",
                            });
                        }
                    };
                    if logs.len() == MAX_POLICY_ITEMS {
                        return Err(PolicyError::TooMany {
                            line,
                            kind: "logs",
                            max: MAX_POLICY_ITEMS,
                        });
                    }
                    let verifier = Ed25519NoteVerifier::from_vkey(vkey)
                        .map_err(|source| PolicyError::Key { line, source })?;
                    if let Some((_, first_line)) = logs
                        .iter()
                        .find(|(l, _)| l.verifier.public_key() == verifier.public_key())
                    {
                        return Err(PolicyError::DuplicateKey {
                            line,
                            kind: "log",
                            first_line: *first_line,
                        });
                    }
                    logs.push((PolicyLog { verifier, url }, line));
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [name, vkey] => (*name, *vkey, None),
                        [name, vkey, url] => (*name, *vkey, Some((*url).to_owned())),
                        _ => {
                            return Err(PolicyError::Fields {
                                line,
                                expected: "witness <name> <vkey> [<url>]",
                            });
                        }
                    };
                    if witnesses.len() == MAX_POLICY_ITEMS {
                        return Err(PolicyError::TooMany {
                            line,
                            kind: "witnesses",
                            max: MAX_POLICY_ITEMS,
                        });
                    }
                    check_new_name(&names, name, line)?;
                    let verifier = CosignatureVerifier::from_vkey(vkey)
                        .map_err(|source| PolicyError::Key { line, source })?;
                    if let Some((_, first_line)) = witnesses
                        .iter()
                        .find(|(w, _)| w.verifier.public_key() == verifier.public_key())
                    {
                        return Err(PolicyError::DuplicateKey {
                            line,
                            kind: "witness",
                            first_line: *first_line,
                        });
                    }
                    names.insert(name.to_owned(), Member::Witness(witnesses.len()));
                    witnesses.push((
                        PolicyWitness {
                            name: name.to_owned(),
                            verifier,
                            url,
                        },
                        line,
                    ));
                }
                "group" => {
                    let [name, threshold, members @ ..] = args else {
                        return Err(PolicyError::Fields {
                            line,
                            expected: "group <name> all|any|<k> <member>...",
                        });
                    };
                    if members.is_empty() {
                        return Err(PolicyError::Fields {
                            line,
                            expected: "group <name> all|any|<k> <member>... (at least one member)",
                        });
                    }
                    if groups.len() == MAX_POLICY_ITEMS {
                        return Err(PolicyError::TooMany {
                            line,
                            kind: "groups",
                            max: MAX_POLICY_ITEMS,
                        });
                    }
                    check_new_name(&names, name, line)?;
                    let mut resolved: Vec<Member> = Vec::with_capacity(members.len());
                    let mut seen: HashSet<Member> = HashSet::new();
                    for member in members {
                        if *member == "none" {
                            return Err(PolicyError::ReservedName { line });
                        }
                        let m = names.get(*member).copied().ok_or_else(|| {
                            PolicyError::UndefinedName {
                                line,
                                name: excerpt(member),
                            }
                        })?;
                        if !seen.insert(m) {
                            return Err(PolicyError::DuplicateMember {
                                line,
                                name: excerpt(member),
                            });
                        }
                        resolved.push(m);
                    }
                    let n = resolved.len();
                    let k = match *threshold {
                        "all" => n,
                        "any" => 1,
                        digits => digits
                            .parse::<usize>()
                            .ok()
                            .filter(|k| {
                                digits.bytes().all(|b| b.is_ascii_digit()) && (1..=n).contains(k)
                            })
                            .ok_or_else(|| PolicyError::Threshold {
                                line,
                                text: excerpt(digits),
                                members: n,
                            })?,
                    };
                    names.insert((*name).to_owned(), Member::Group(groups.len()));
                    groups.push(PolicyGroup {
                        name: (*name).to_owned(),
                        threshold: k,
                        members: resolved,
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(PolicyError::Fields {
                            line,
                            expected: "quorum <name>|none",
                        });
                    };
                    if let Some((_, first_line)) = quorum {
                        return Err(PolicyError::DuplicateQuorum { line, first_line });
                    }
                    let q = if *name == "none" {
                        Quorum::None
                    } else {
                        Quorum::Member(names.get(*name).copied().ok_or_else(|| {
                            PolicyError::UndefinedName {
                                line,
                                name: excerpt(name),
                            }
                        })?)
                    };
                    quorum = Some((q, line));
                }
                other => {
                    return Err(PolicyError::UnknownKeyword {
                        line,
                        keyword: excerpt(other),
                    });
                }
            }
        }
        let (quorum, _) = quorum.ok_or(PolicyError::MissingQuorum)?;
        Ok(Policy {
            logs: logs.into_iter().map(|(l, _)| l).collect(),
            witnesses: witnesses.into_iter().map(|(w, _)| w).collect(),
            groups,
            quorum,
        })
    }

    /// Formats the policy in the spec's syntax (parses back to an equal policy).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for log in &self.logs {
            out.push_str("log ");
            out.push_str(&log.verifier.to_vkey());
            if let Some(url) = &log.url {
                out.push(' ');
                out.push_str(url);
            }
            out.push('\n');
        }
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {}", w.name, w.verifier.to_vkey()));
            if let Some(url) = &w.url {
                out.push(' ');
                out.push_str(url);
            }
            out.push('\n');
        }
        for g in &self.groups {
            out.push_str(&format!("group {} {}", g.name, g.threshold));
            for m in &g.members {
                out.push(' ');
                out.push_str(self.member_name(*m));
            }
            out.push('\n');
        }
        match self.quorum {
            Quorum::None => out.push_str("quorum none\n"),
            Quorum::Member(m) => {
                out.push_str("quorum ");
                out.push_str(self.member_name(m));
                out.push('\n');
            }
        }
        out
    }

    fn member_name(&self, member: Member) -> &str {
        match member {
            Member::Witness(i) => self.witnesses.get(i).map_or("?", |w| w.name.as_str()),
            Member::Group(i) => self.groups.get(i).map_or("?", |g| g.name.as_str()),
        }
    }

    /// Checks a cosigned checkpoint: a log of the policy whose key name is the origin signed
    /// it, every known signature verifies, and the witness quorum is met.
    pub fn verify_checkpoint(
        &self,
        checkpoint: &SignedCheckpoint,
    ) -> Result<PolicyVerified, PolicyError> {
        let origin = &checkpoint.checkpoint().origin;
        let log_indices: Vec<usize> = self
            .logs
            .iter()
            .enumerate()
            .filter(|(_, l)| l.verifier.name() == origin)
            .map(|(i, _)| i)
            .collect();
        if log_indices.is_empty() {
            return Err(PolicyError::UnknownLog {
                origin: excerpt(origin),
            });
        }
        let mut verifiers: Vec<&dyn NoteVerifier> = Vec::new();
        for &i in &log_indices {
            verifiers.push(&self.logs[i].verifier);
        }
        for w in &self.witnesses {
            verifiers.push(&w.verifier);
        }
        let note = checkpoint.note();
        let verified = note.verify_known(&verifiers)?;
        let log = verified
            .iter()
            .find(|v| v.verifier_index < log_indices.len())
            .map(|v| log_indices[v.verifier_index])
            .ok_or_else(|| PolicyError::MissingLogSignature {
                origin: excerpt(origin),
            })?;
        let mut cosignatures = Vec::new();
        for v in &verified {
            if v.verifier_index < log_indices.len() {
                continue;
            }
            let witness = v.verifier_index - log_indices.len();
            let sig = &note.signatures()[v.signature_index];
            // The verifier already checked the shape, so decoding cannot fail here.
            if let Ok(cosig) = CosignatureV1::from_signature(sig) {
                cosignatures.push((witness, cosig.timestamp));
            }
        }
        let cosigned: Vec<usize> = cosignatures.iter().map(|(w, _)| *w).collect();
        if !self.quorum_met(&cosigned) {
            let quorum = match self.quorum {
                Quorum::None => "none".to_owned(),
                Quorum::Member(m) => self.member_name(m).to_owned(),
            };
            let names = cosigned
                .iter()
                .map(|&w| self.witnesses[w].name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PolicyError::QuorumNotMet {
                quorum,
                cosigned: names,
            });
        }
        Ok(PolicyVerified { log, cosignatures })
    }

    /// Evaluates the quorum given the witnesses (indices) whose cosignatures verified.
    pub fn quorum_met(&self, cosigned_witnesses: &[usize]) -> bool {
        let mut witness_ok = vec![false; self.witnesses.len()];
        for &w in cosigned_witnesses {
            if let Some(ok) = witness_ok.get_mut(w) {
                *ok = true;
            }
        }
        let member_ok = |m: Member, groups_ok: &[bool]| match m {
            Member::Witness(i) => witness_ok.get(i).copied().unwrap_or(false),
            Member::Group(i) => groups_ok.get(i).copied().unwrap_or(false),
        };
        // Groups only reference earlier definitions, so one pass in order suffices.
        let mut groups_ok: Vec<bool> = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let satisfied = g
                .members
                .iter()
                .filter(|m| member_ok(**m, &groups_ok))
                .count();
            groups_ok.push(satisfied >= g.threshold);
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Member(m) => member_ok(m, &groups_ok),
        }
    }
}

fn check_new_name(
    names: &HashMap<String, Member>,
    name: &str,
    line: usize,
) -> Result<(), PolicyError> {
    if name == "none" {
        return Err(PolicyError::ReservedName { line });
    }
    if names.contains_key(name) {
        return Err(PolicyError::DuplicateName {
            line,
            name: excerpt(name),
        });
    }
    Ok(())
}
