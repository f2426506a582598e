-- People: a user is a principal (kind 'User') with a sign-in name and an Argon2id password hash.
-- upn_key is the name lower-cased: Entra's names are case-insensitive and unique in the tenant.
CREATE TABLE users (
    object_id        TEXT PRIMARY KEY REFERENCES principals(object_id) ON DELETE CASCADE,
    upn              TEXT NOT NULL,
    upn_key          TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    enabled          BOOLEAN NOT NULL,
    password_changed BIGINT NOT NULL
);
