-- Interactive sign-in. Device codes and refresh tokens are kept only as SHA-256 hashes (hex); a
-- device code is approved by a user (object_id set) and redeemed once; a refresh token is taken
-- (deleted) when used, so each is good for one exchange.
CREATE TABLE device_codes (
    hash      TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope     TEXT NOT NULL,
    expires   BIGINT NOT NULL,
    object_id TEXT REFERENCES principals(object_id) ON DELETE CASCADE,
    redeemed  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE refresh_tokens (
    hash      TEXT PRIMARY KEY,
    object_id TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope     TEXT NOT NULL,
    created   BIGINT NOT NULL,
    expires   BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_by_principal ON refresh_tokens (object_id);
