CREATE TABLE key_versions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    vault      TEXT NOT NULL COLLATE NOCASE,
    name       TEXT NOT NULL COLLATE NOCASE,
    version    TEXT NOT NULL,
    kty        TEXT NOT NULL,
    jwk        TEXT NOT NULL,
    key_ops    TEXT NOT NULL,
    private    BLOB NOT NULL,
    enabled    INTEGER NOT NULL,
    nbf        INTEGER,
    exp        INTEGER,
    exportable INTEGER NOT NULL,
    tags       TEXT,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    UNIQUE (vault, name, version)
);
CREATE INDEX key_versions_by_name ON key_versions (vault, name, seq);
CREATE TABLE deleted_keys (
    vault                TEXT NOT NULL COLLATE NOCASE,
    name                 TEXT NOT NULL COLLATE NOCASE,
    deleted_date         INTEGER NOT NULL,
    scheduled_purge_date INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
CREATE TABLE key_policies (
    vault   TEXT NOT NULL COLLATE NOCASE,
    name    TEXT NOT NULL COLLATE NOCASE,
    policy  TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
