-- PostgreSQL twin of migrations/sqlite/0002_management.sql.
ALTER TABLE vaults ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
ALTER TABLE vaults ADD COLUMN deleted_at BIGINT;
ALTER TABLE vaults ADD COLUMN purge_at BIGINT;
CREATE TABLE resource_groups (
    name       TEXT NOT NULL,
    name_key   TEXT COLLATE "C" PRIMARY KEY
        GENERATED ALWAYS AS (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    location   TEXT NOT NULL,
    tags       TEXT,
    created    BIGINT NOT NULL
);
CREATE TABLE role_assignments (
    name               TEXT COLLATE "C" PRIMARY KEY,
    scope              TEXT NOT NULL,
    principal_id       TEXT COLLATE "C" NOT NULL,
    role_definition_id TEXT NOT NULL,
    principal_type     TEXT,
    created            BIGINT NOT NULL
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);
