-- Two-step sign-in with TOTP (RFC 6238) and single-use recovery codes.
ALTER TABLE operators ADD COLUMN totp_secret BLOB;            -- NULL until enrolled
ALTER TABLE operators ADD COLUMN totp_last_step INTEGER;      -- the last step accepted: never twice
-- A session that passed the password but not yet the second factor can do nothing else.
ALTER TABLE sessions ADD COLUMN second_factor_pending INTEGER NOT NULL DEFAULT 0;
CREATE TABLE recovery_codes (
    operator_id  INTEGER NOT NULL REFERENCES operators (id),
    code_hash    BLOB    NOT NULL,                             -- SHA-256 of the code
    used_at_ms   INTEGER,
    PRIMARY KEY (operator_id, code_hash)
);
