-- PostgreSQL twin of migrations/sqlite/0003_resources.sql. `id_key` is the ARM id lower-cased by the
-- store; `group_key` likewise for the resource group.
CREATE TABLE resources (
    id_key         TEXT COLLATE "C" PRIMARY KEY,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    group_key      TEXT COLLATE "C" NOT NULL
        GENERATED ALWAYS AS (translate(resource_group, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED,
    name           TEXT NOT NULL,
    location       TEXT NOT NULL,
    tags           TEXT,
    properties     TEXT NOT NULL,
    identity       TEXT,
    sealed         BYTEA,
    created        BIGINT NOT NULL
);
CREATE INDEX resources_by_group ON resources (group_key);
CREATE TABLE used_tokens (
    key     TEXT COLLATE "C" PRIMARY KEY,
    expires BIGINT NOT NULL
);
