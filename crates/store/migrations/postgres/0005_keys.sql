-- Names compare case-insensitively through generated `*_key` columns, as in 0001_init.sql.
CREATE TABLE key_versions (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault      TEXT NOT NULL,
    name       TEXT NOT NULL,
    vault_key  TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key   TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    version    TEXT NOT NULL,
    kty        TEXT NOT NULL,
    jwk        TEXT NOT NULL,
    key_ops    TEXT NOT NULL,
    private    BYTEA NOT NULL,
    enabled    BOOLEAN NOT NULL,
    nbf        BIGINT,
    exp        BIGINT,
    exportable BOOLEAN NOT NULL,
    tags       TEXT,
    created    BIGINT NOT NULL,
    updated    BIGINT NOT NULL,
    UNIQUE (vault_key, name_key, version)
);
CREATE INDEX key_versions_by_name ON key_versions (vault_key, name_key, seq);
CREATE TABLE deleted_keys (
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
CREATE INDEX deleted_keys_by_purge_date ON deleted_keys (scheduled_purge_date);
CREATE TABLE key_policies (
    vault    TEXT NOT NULL,
    name     TEXT NOT NULL,
    vault_key TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    policy   TEXT NOT NULL,
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
