-- Alerts' own copy of the publishable scores it judges (scope "unit"), newest sequence wins.
CREATE TABLE {schema}.period_scores (
    tenant         text             NOT NULL,
    unit           text             NOT NULL,
    instrument     text             NOT NULL,
    model          text             NOT NULL,
    dimension      text             NOT NULL,
    period         text             NOT NULL,
    period_start   timestamptz      NOT NULL,
    period_end     timestamptz      NOT NULL,
    index          double precision NOT NULL,
    respondents    integer          NOT NULL,
    standard_error double precision,
    tenant_index   double precision,
    sequence       integer          NOT NULL,
    received_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, unit, instrument, model, dimension, period)
);

-- One row per judged series: up to which period end it has been judged.
CREATE TABLE {schema}.series (
    tenant         text        NOT NULL,
    unit           text        NOT NULL,
    instrument     text        NOT NULL,
    model          text        NOT NULL,
    dimension      text        NOT NULL,
    judged_through timestamptz,  -- NULL: never judged
    rejudge        boolean     NOT NULL DEFAULT true,
    PRIMARY KEY (tenant, unit, instrument, model, dimension)
);

CREATE TABLE {schema}.alerts (
    alert_id          text        PRIMARY KEY,
    tenant            text        NOT NULL,
    unit              text        NOT NULL,
    instrument        text        NOT NULL,
    model             text        NOT NULL,
    dimension         text        NOT NULL,
    state             text        NOT NULL CHECK (state IN ('open', 'acknowledged', 'escalated', 'resolved')),
    level             integer     NOT NULL,
    opened_period     text        NOT NULL,
    opened_at         timestamptz NOT NULL,
    baseline_period   text        NOT NULL,
    baseline_index    double precision NOT NULL,
    acknowledged_at   timestamptz,
    last_escalated_at timestamptz,
    resolved_at       timestamptz,
    action_plan       text,
    follow_up_date    date,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Exactly one active alert per tenant, unit, instrument, model and dimension.
CREATE UNIQUE INDEX alerts_one_active ON {schema}.alerts (tenant, unit, instrument, model, dimension)
    WHERE state <> 'resolved';
CREATE INDEX alerts_by_tenant_state ON {schema}.alerts (tenant, state);

-- The audit trail: every transition, why, and the evidence (indices and n, never answers).
CREATE TABLE {schema}.transitions (
    transition_id uuid        PRIMARY KEY,
    alert_id      text        NOT NULL REFERENCES {schema}.alerts (alert_id),
    tenant        text        NOT NULL,
    from_state    text,
    to_state      text        NOT NULL,
    level         integer     NOT NULL,
    rule          text        NOT NULL,
    reason        text        NOT NULL,
    period        text        NOT NULL,
    actor         text        NOT NULL DEFAULT 'tempen',
    evidence      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transitions_by_alert ON {schema}.transitions (alert_id, created_at);

-- Notifications are an outbox of their own: written with the transition, delivered by the notifier.
-- One row per transition, recipient and channel, so nothing is ever sent twice for the same pair.
CREATE TABLE {schema}.notifications (
    notification_id uuid        PRIMARY KEY,
    transition_id   uuid        NOT NULL REFERENCES {schema}.transitions (transition_id),
    alert_id        text        NOT NULL,
    tenant          text        NOT NULL,
    channel         text        NOT NULL,
    recipient       text        NOT NULL,
    recipient_role  text        NOT NULL,
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    body_html       text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'in_doubt')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (transition_id, recipient, channel)
);
CREATE INDEX notifications_due ON {schema}.notifications (next_attempt_at) WHERE state = 'pending';
