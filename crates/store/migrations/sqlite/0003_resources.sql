CREATE TABLE resources (
    id_key         TEXT PRIMARY KEY,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    resource_group TEXT NOT NULL COLLATE NOCASE,
    name           TEXT NOT NULL,
    location       TEXT NOT NULL,
    tags           TEXT,
    properties     TEXT NOT NULL,
    identity       TEXT,
    sealed         BLOB,
    created        INTEGER NOT NULL
);
CREATE INDEX resources_by_group ON resources (resource_group);
CREATE TABLE used_tokens (
    key     TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
);
