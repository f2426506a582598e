ALTER TABLE vaults ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
ALTER TABLE vaults ADD COLUMN deleted_at INTEGER;
ALTER TABLE vaults ADD COLUMN purge_at INTEGER;
CREATE TABLE resource_groups (
    name       TEXT PRIMARY KEY COLLATE NOCASE,
    location   TEXT NOT NULL,
    tags       TEXT,
    created    INTEGER NOT NULL
);
CREATE TABLE role_assignments (
    name               TEXT PRIMARY KEY COLLATE NOCASE,
    scope              TEXT NOT NULL,
    principal_id       TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    principal_type     TEXT,
    created            INTEGER NOT NULL
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);
