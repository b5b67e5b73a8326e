-- One random key per person named by a log entry. Entries carry only HMAC(key, person); deleting
-- the key (crypto-shredding) makes those entries unlinkable to the person for good.
CREATE TABLE person_keys (
    person_ref     TEXT    PRIMARY KEY,
    hmac_key       BYTEA   NOT NULL,
    created_at_ms  BIGINT  NOT NULL
);
