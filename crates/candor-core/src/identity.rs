//! Who may do what: operator roles and API token scopes.

use std::fmt;

/// An operator's role. Each role's rights are listed in `docs/ADMIN.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including users, roles and API tokens.
    Owner,
    /// Content, incidents and documents.
    Editor,
    /// Access requests and lockbox approvals.
    Approver,
    /// Reads everything, including the audit trail; changes nothing.
    Auditor,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Editor, Role::Approver, Role::Auditor];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the role may manage users, roles and API tokens.
    pub fn manages_access(self) -> bool {
        self == Role::Owner
    }

    /// Whether the role may read the audit trail.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::Owner | Role::Auditor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API token may do. A token carries one or more scopes; each endpoint needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read everything the native API offers.
    Read,
    /// Reload the trust-as-code (`POST /api/v1/admin/reload`).
    ContentReload,
    /// Open, update and resolve incidents.
    IncidentsWrite,
    /// Push monitor heartbeats.
    HeartbeatsWrite,
    /// Record access to customer data.
    AccessEventsWrite,
    /// Create, replace and delete monitors through the API.
    MonitorsWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 6] = [
        Scope::Read,
        Scope::ContentReload,
        Scope::IncidentsWrite,
        Scope::HeartbeatsWrite,
        Scope::AccessEventsWrite,
        Scope::MonitorsWrite,
    ];

    /// The scope's name in tokens and the OpenAPI document.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ContentReload => "content:reload",
            Scope::IncidentsWrite => "incidents:write",
            Scope::HeartbeatsWrite => "heartbeats:write",
            Scope::AccessEventsWrite => "access-events:write",
            Scope::MonitorsWrite => "monitors:write",
        }
    }

    /// Parses a scope name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalises an email address for lookups: trimmed and lowercase. Returns None when it is not
/// plausibly an address (one `@`, something on both sides, no spaces or control characters).
pub fn normalise_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_scopes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Scope::parse("incidents:*"), None);
    }

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalise_email("  Alice@Acme.Example "),
            Some("alice@acme.example".into())
        );
        for bad in [
            "",
            "alice",
            "@acme.example",
            "a@b",
            "a@@b.c",
            "a b@c.d",
            "a\u{7}b@c.d",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad:?}");
        }
    }
}
