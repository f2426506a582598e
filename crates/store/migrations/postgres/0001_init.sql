-- PostgreSQL twin of migrations/sqlite/0001_init.sql.
--
-- Vault and secret names are case-insensitive as with SQLite's COLLATE NOCASE: each table keeps the
-- name as written and a generated key folded with ASCII-only lower-casing (exactly what NOCASE folds),
-- compared and ordered byte-wise (COLLATE "C"), whatever the database's locale.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE principals (
    object_id    TEXT PRIMARY KEY,
    app_id       TEXT UNIQUE,
    display_name TEXT NOT NULL,
    kind         TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    created      BIGINT NOT NULL
);
CREATE TABLE client_secrets (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL,
    hint       TEXT NOT NULL,
    created    BIGINT NOT NULL,
    expires    BIGINT NOT NULL
);
CREATE INDEX client_secrets_by_principal ON client_secrets (object_id);
CREATE TABLE client_certificates (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    x5t        TEXT NOT NULL,
    x5t_s256   TEXT NOT NULL,
    der        BYTEA NOT NULL,
    not_after  BIGINT NOT NULL
);
CREATE INDEX client_certificates_by_principal ON client_certificates (object_id);
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    created    BIGINT NOT NULL,
    retired_at BIGINT,
    sealed     BYTEA NOT NULL
);
CREATE TABLE vaults (
    name                 TEXT NOT NULL,
    name_key             TEXT COLLATE "C" PRIMARY KEY
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    tenant_id            TEXT NOT NULL,
    retention_days       BIGINT NOT NULL,
    purge_protection     BOOLEAN NOT NULL,
    created              BIGINT NOT NULL
);
CREATE TABLE secret_versions (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault        TEXT NOT NULL,
    name         TEXT NOT NULL,
    vault_key    TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key     TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    version      TEXT NOT NULL,
    value        BYTEA NOT NULL,
    content_type TEXT,
    tags         TEXT,
    enabled      BOOLEAN NOT NULL,
    nbf          BIGINT,
    exp          BIGINT,
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    UNIQUE (vault_key, name_key, version)
);
CREATE INDEX secret_versions_by_name ON secret_versions (vault_key, name_key, seq);
CREATE TABLE deleted_secrets (
    vault                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    vault_key            TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key             TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    deleted_date         BIGINT NOT NULL,
    scheduled_purge_date BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
CREATE INDEX deleted_secrets_by_purge_date ON deleted_secrets (scheduled_purge_date);
