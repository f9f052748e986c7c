-- API tokens. Only a SHA-256 digest of each token is kept; the token itself is shown once, when it is
-- created. Written only by `tempen tokens`; the services read it (see docs/access.md).
-- A tenant token acts for its tenant only; an admin token (tenant NULL) acts for every tenant.
CREATE TABLE {schema}.tokens (
    token_id    uuid        PRIMARY KEY,
    tenant      text,
    is_admin    boolean     NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix      text        NOT NULL UNIQUE,  -- not secret: what listings show and revocation accepts
    token_hash  bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    scopes      text[]      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (is_admin = (tenant IS NULL)),
    CHECK (scopes <@ ARRAY['submit', 'read', 'manage', 'admin']::text[]),
    CHECK (is_admin OR cardinality(scopes) > 0)
);
CREATE INDEX tokens_tenant ON {schema}.tokens (tenant, created_at);
