-- A certificate version is a key version and a secret version of the same name and version id
-- (written in the same transaction), plus the X.509 certificate below. Names compare
-- case-insensitively through generated `*_key` columns, as in 0001_init.sql.
CREATE TABLE certificate_versions (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault        TEXT NOT NULL,
    name         TEXT NOT NULL,
    vault_key  TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key   TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    version      TEXT NOT NULL,
    cer          BYTEA NOT NULL,
    x5t          TEXT NOT NULL,
    content_type TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    nbf          BIGINT,
    exp          BIGINT,
    tags         TEXT,
    -- preserveCertOrder as the client asked (api-version 7.6 on), or NULL.
    preserve_cert_order BOOLEAN,
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    UNIQUE (vault_key, name_key, version)
);
CREATE INDEX certificate_versions_by_name ON certificate_versions (vault_key, name_key, seq);
CREATE TABLE deleted_certificates (
    vault                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    vault_key  TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key   TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    deleted_date         BIGINT NOT NULL,
    scheduled_purge_date BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
CREATE INDEX deleted_certificates_by_purge_date ON deleted_certificates (scheduled_purge_date);
CREATE TABLE certificate_policies (
    vault    TEXT NOT NULL,
    name     TEXT NOT NULL,
    vault_key  TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key   TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    policy   TEXT NOT NULL,
    created  BIGINT NOT NULL,
    updated  BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
CREATE TABLE certificate_operations (
    vault     TEXT NOT NULL,
    name      TEXT NOT NULL,
    vault_key  TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key   TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    operation TEXT NOT NULL,
    -- The pending key (PKCS#8 sealed to ["certificate-pending", vault, name, request id]) until merged.
    private   BYTEA,
    updated   BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
-- A vault's certificate contacts (the domain's JSON).
CREATE TABLE certificate_contacts (
    vault   TEXT NOT NULL,
    vault_key TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    contacts TEXT NOT NULL,
    updated  BIGINT NOT NULL,
    PRIMARY KEY (vault_key)
);
-- Certificate issuers: the domain's JSON, and the credentials' password sealed to
-- ["certificate-issuer", vault, name].
CREATE TABLE certificate_issuers (
    vault   TEXT NOT NULL,
    name    TEXT NOT NULL,
    vault_key TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(vault, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name_key TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    issuer      TEXT NOT NULL,
    credentials BYTEA,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    PRIMARY KEY (vault_key, name_key)
);
-- A certificate's key and secret versions are managed: the keys and secrets APIs read them but do
-- not change them.
ALTER TABLE key_versions ADD COLUMN managed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE secret_versions ADD COLUMN managed BOOLEAN NOT NULL DEFAULT FALSE;
