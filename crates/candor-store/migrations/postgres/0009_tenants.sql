-- Customer tenants: a customer organisation, its administrators (who sign in by magic link),
-- their sessions and their single-use sign-in links.
CREATE TABLE tenants (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    created_at_ms  BIGINT  NOT NULL
);
CREATE TABLE tenant_admins (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT  NOT NULL REFERENCES tenants (id),
    email          TEXT    NOT NULL UNIQUE,          -- lowercase; one tenant per address
    created_at_ms  BIGINT  NOT NULL
);
CREATE TABLE tenant_links (
    token_hash       BYTEA   PRIMARY KEY,
    tenant_admin_id  BIGINT  NOT NULL REFERENCES tenant_admins (id),
    expires_at_ms    BIGINT  NOT NULL,
    used_at_ms       BIGINT 
);
CREATE TABLE tenant_sessions (
    id_hash          BYTEA   PRIMARY KEY,
    tenant_admin_id  BIGINT  NOT NULL REFERENCES tenant_admins (id),
    csrf_token       TEXT    NOT NULL,
    created_at_ms    BIGINT  NOT NULL,
    last_seen_at_ms  BIGINT  NOT NULL
);
