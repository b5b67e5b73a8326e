-- OpenID Connect sign-in: an operator is linked to one (issuer, subject) on first sign-in.
ALTER TABLE operators ADD COLUMN oidc_issuer TEXT;
ALTER TABLE operators ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX operators_by_oidc ON operators (oidc_issuer, oidc_subject);
-- Sign-ins sent to the provider and not back yet, keyed by their state. Taken (deleted) when
-- the browser comes back, so a callback works at most once.
CREATE TABLE oidc_pending (
    state          TEXT    PRIMARY KEY,
    pending        TEXT    NOT NULL,      -- candor_oidc::PendingLogin as JSON (holds the PKCE verifier)
    created_at_ms  INTEGER NOT NULL
);
