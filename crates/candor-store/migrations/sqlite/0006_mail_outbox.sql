-- Outgoing mail, kept until the relay accepted it (at-least-once delivery). A row is claimed
-- for a while (claimed_until_ms) before it is sent, so two workers never send it at once; a
-- worker that dies mid-send leaves the claim to expire and the mail is sent again, recognisable
-- by its Message-ID.
CREATE TABLE mail_outbox (
    id                 INTEGER PRIMARY KEY,
    message_id         TEXT    NOT NULL UNIQUE, -- the Message-ID header, <random@domain>
    sender             TEXT    NOT NULL,        -- envelope MAIL FROM
    recipient          TEXT    NOT NULL,        -- envelope RCPT TO
    message            BLOB    NOT NULL,        -- the complete RFC 5322 message, sent as is
    created_at_ms      INTEGER NOT NULL,
    next_attempt_at_ms INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0, -- claims so far, the current one included
    last_error         TEXT,                    -- the last failure, never containing a secret
    claimed_until_ms   INTEGER,
    sent_at_ms         INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at_ms, id) WHERE sent_at_ms IS NULL;
