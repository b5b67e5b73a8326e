-- What was published when: one row each time a content page's bytes changed.
CREATE TABLE content_revisions (
    id              BIGSERIAL PRIMARY KEY,
    page_path       TEXT   NOT NULL,
    title           TEXT   NOT NULL,
    content_sha256  TEXT   NOT NULL,
    published_at_ms BIGINT NOT NULL
);
CREATE INDEX content_revisions_by_page ON content_revisions (page_path, id);
