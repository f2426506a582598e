-- PostgreSQL twin of migrations/sqlite/0004_agents.sql.
CREATE TABLE join_tokens (
    hash        TEXT COLLATE "C" PRIMARY KEY,
    resource_id TEXT NOT NULL,
    expires     BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE TABLE agents (
    agent_id    TEXT COLLATE "C" PRIMARY KEY,
    resource_id TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created     BIGINT NOT NULL,
    revoked_at  BIGINT
);
