-- Raw submissions, the source of truth for everything downstream. One row per (tenant, submission id):
-- a correction replaces the answers and bumps the revision; the outbox carries each revision on.
CREATE TABLE {schema}.submissions (
    tenant        text        NOT NULL,
    submission_id text        NOT NULL,
    revision      integer     NOT NULL CHECK (revision >= 1),
    fingerprint   text        NOT NULL,
    instrument    text        NOT NULL,
    unit          text        NOT NULL,
    submitted_at  timestamptz NOT NULL,
    respondent    text,
    answers       jsonb       NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, submission_id)
);
CREATE INDEX submissions_respondent ON {schema}.submissions (tenant, respondent) WHERE respondent IS NOT NULL;
CREATE INDEX submissions_received_at ON {schema}.submissions (received_at);
