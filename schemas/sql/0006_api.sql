-- 0006: `tally serve`. API keys are stored as hashes only: the key is shown
-- once by `tally keys create` and can never be read back. Idempotent writes
-- (credits) remember their request and answer by Idempotency-Key.

CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,               -- the key's public part
    name         text NOT NULL UNIQUE,
    scope        text NOT NULL,                  -- admin | events:write | customer:<id>
    secret_hash  bytea NOT NULL,                 -- SHA-256 of the whole key
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    CHECK (octet_length(secret_hash) = 32)
);

CREATE TABLE api_idempotency (
    principal     text NOT NULL,                 -- the API key's name
    idem_key      text NOT NULL,
    route         text NOT NULL,                 -- method and path
    request_hash  bytea NOT NULL,                -- SHA-256 of the body
    status        int NOT NULL,
    response      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, idem_key)
);
