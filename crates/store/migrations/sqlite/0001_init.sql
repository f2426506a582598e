CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE principals (
    object_id    TEXT PRIMARY KEY,
    app_id       TEXT UNIQUE,
    display_name TEXT NOT NULL,
    kind         TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    created      INTEGER NOT NULL
);
CREATE TABLE client_secrets (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    hash       BLOB NOT NULL,
    hint       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
CREATE TABLE client_certificates (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    x5t        TEXT NOT NULL,
    x5t_s256   TEXT NOT NULL,
    der        BLOB NOT NULL,
    not_after  INTEGER NOT NULL
);
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    created    INTEGER NOT NULL,
    retired_at INTEGER,
    sealed     BLOB NOT NULL
);
CREATE TABLE vaults (
    name                 TEXT PRIMARY KEY COLLATE NOCASE,
    tenant_id            TEXT NOT NULL,
    retention_days       INTEGER NOT NULL,
    purge_protection     INTEGER NOT NULL,
    created              INTEGER NOT NULL
);
CREATE TABLE secret_versions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    vault        TEXT NOT NULL COLLATE NOCASE,
    name         TEXT NOT NULL COLLATE NOCASE,
    version      TEXT NOT NULL,
    value        BLOB NOT NULL,
    content_type TEXT,
    tags         TEXT,
    enabled      INTEGER NOT NULL,
    nbf          INTEGER,
    exp          INTEGER,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    UNIQUE (vault, name, version)
);
CREATE INDEX secret_versions_by_name ON secret_versions (vault, name, seq);
CREATE TABLE deleted_secrets (
    vault                TEXT NOT NULL COLLATE NOCASE,
    name                 TEXT NOT NULL COLLATE NOCASE,
    deleted_date         INTEGER NOT NULL,
    scheduled_purge_date INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
