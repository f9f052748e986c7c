-- Retention and erasure: raw answers may be deleted while the row (id, revision, fingerprint) stays,
-- so a redelivery is still recognised. An erased submission is never stored or published again.
ALTER TABLE {schema}.submissions ALTER COLUMN answers DROP NOT NULL;
ALTER TABLE {schema}.submissions ADD COLUMN answers_purged_at timestamptz;
ALTER TABLE {schema}.submissions ADD COLUMN erased_at timestamptz;
CREATE INDEX submissions_answers_stored_at ON {schema}.submissions (updated_at) WHERE answers IS NOT NULL;

-- Webhook deliveries already received, to refuse replays; pruned after a week.
CREATE TABLE {schema}.deliveries (
    tenant      text        NOT NULL,
    platform    text        NOT NULL,
    delivery_id text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, platform, delivery_id)
);
CREATE INDEX deliveries_received_at ON {schema}.deliveries (received_at);

-- Free-text answers of tenants that opted in. Never published, deleted after their retention.
CREATE TABLE {schema}.comments (
    tenant        text        NOT NULL,
    submission_id text        NOT NULL,
    question      text        NOT NULL,
    text          text        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, submission_id, question)
);
CREATE INDEX comments_received_at ON {schema}.comments (received_at);
