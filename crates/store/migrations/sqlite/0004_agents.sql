CREATE TABLE join_tokens (
    hash        TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    expires     INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE TABLE agents (
    agent_id    TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created     INTEGER NOT NULL,
    revoked_at  INTEGER
);
