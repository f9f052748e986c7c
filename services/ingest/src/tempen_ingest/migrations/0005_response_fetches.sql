-- Responses named by webhooks that carry only an id (SurveyMonkey, Qualtrics). A verified webhook
-- queues its response here, once per (tenant, platform, response id), and is answered at once; a
-- background task fetches the response from the platform's API and stores its submission in the
-- same transaction that marks the row done, or dead-letters it with its reason.
CREATE TABLE {schema}.response_fetches (
    tenant          text        NOT NULL,
    platform        text        NOT NULL,
    response_id     text        NOT NULL,
    mapping_id      text        NOT NULL,
    survey_id       text        NOT NULL,
    event_id        text,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    PRIMARY KEY (tenant, platform, response_id)
);
CREATE INDEX response_fetches_due ON {schema}.response_fetches (next_attempt_at) WHERE state = 'pending';
CREATE INDEX response_fetches_settled_at ON {schema}.response_fetches (settled_at) WHERE state <> 'pending';
