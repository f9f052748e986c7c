-- Action plans (docs/alerts.md, "Action plans"). Append-only: every change of a plan is a new revision and
-- every follow-up a new comment, each with who wrote it (the signed-in person the portal passes) and when
-- (the service's clock). These rows are the plan's audit trail; nothing here is ever updated or deleted.
-- alerts.action_plan and alerts.follow_up_date keep the current revision's what and due date.
CREATE TABLE {schema}.plan_revisions (
    alert_id    text        NOT NULL REFERENCES {schema}.alerts (alert_id),
    revision    integer     NOT NULL CHECK (revision >= 1),
    tenant      text        NOT NULL,
    what        text        NOT NULL,
    owner       text        NOT NULL,
    due_date    date,
    status      text        NOT NULL CHECK (status IN ('planned', 'in_progress', 'done')),
    written_by  text        NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (alert_id, revision)
);
CREATE TABLE {schema}.plan_comments (
    alert_id    text        NOT NULL REFERENCES {schema}.alerts (alert_id),
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    tenant      text        NOT NULL,
    body        text        NOT NULL,
    written_by  text        NOT NULL,
    written_at  timestamptz NOT NULL,
    PRIMARY KEY (alert_id, seq)
);
