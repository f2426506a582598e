-- A certificate version is a key version and a secret version of the same name and version id
-- (written in the same transaction), plus the X.509 certificate below.
CREATE TABLE certificate_versions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    vault        TEXT NOT NULL COLLATE NOCASE,
    name         TEXT NOT NULL COLLATE NOCASE,
    version      TEXT NOT NULL,
    cer          BLOB NOT NULL,
    x5t          TEXT NOT NULL,
    content_type TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    nbf          INTEGER,
    exp          INTEGER,
    tags         TEXT,
    -- preserveCertOrder as the client asked (api-version 7.6 on), or NULL.
    preserve_cert_order INTEGER,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    UNIQUE (vault, name, version)
);
CREATE INDEX certificate_versions_by_name ON certificate_versions (vault, name, seq);
CREATE TABLE deleted_certificates (
    vault                TEXT NOT NULL COLLATE NOCASE,
    name                 TEXT NOT NULL COLLATE NOCASE,
    deleted_date         INTEGER NOT NULL,
    scheduled_purge_date INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
CREATE TABLE certificate_policies (
    vault   TEXT NOT NULL COLLATE NOCASE,
    name    TEXT NOT NULL COLLATE NOCASE,
    policy  TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
CREATE TABLE certificate_operations (
    vault     TEXT NOT NULL COLLATE NOCASE,
    name      TEXT NOT NULL COLLATE NOCASE,
    operation TEXT NOT NULL,
    -- The pending key (PKCS#8 sealed to ["certificate-pending", vault, name, request id]) until merged.
    private   BLOB,
    updated   INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
-- A vault's certificate contacts (the domain's JSON).
CREATE TABLE certificate_contacts (
    vault   TEXT NOT NULL COLLATE NOCASE,
    contacts TEXT NOT NULL,
    updated  INTEGER NOT NULL,
    PRIMARY KEY (vault)
);
-- Certificate issuers: the domain's JSON, and the credentials' password sealed to
-- ["certificate-issuer", vault, name].
CREATE TABLE certificate_issuers (
    vault   TEXT NOT NULL COLLATE NOCASE,
    name    TEXT NOT NULL COLLATE NOCASE,
    issuer      TEXT NOT NULL,
    credentials BLOB,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    PRIMARY KEY (vault, name)
);
-- A certificate's key and secret versions are managed: the keys and secrets APIs read them but do
-- not change them.
ALTER TABLE key_versions ADD COLUMN managed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE secret_versions ADD COLUMN managed INTEGER NOT NULL DEFAULT 0;
