-- Authorization codes of the browser sign-in (code flow with PKCE), by SHA-256 hash (hex): bound to
-- the client, its redirect URI and the PKCE challenge; taken (deleted) when redeemed, so each works once.
CREATE TABLE auth_codes (
    hash           TEXT PRIMARY KEY,
    object_id      TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    created        BIGINT NOT NULL,
    expires        BIGINT NOT NULL
);
