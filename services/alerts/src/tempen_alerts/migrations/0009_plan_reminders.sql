-- Plan reminders (docs/alerts.md, "Reminders when a plan's due date passes"). A reminder is no transition (the
-- alert's state does not change), so its e-mail belongs to a row of its own here. One row per alert and due date:
-- the primary key is what keeps it to one reminder per due date, and the notification is queued in the
-- transaction that inserts the row, so a crash queues neither and a retry queues once. A revised due date is a
-- new key and gets its own reminder. The rows are the reminders' audit trail; nothing here is updated or deleted.
CREATE TABLE {schema}.plan_reminders (
    reminder_id  uuid        NOT NULL UNIQUE,
    alert_id     text        NOT NULL REFERENCES {schema}.alerts (alert_id),
    due_date     date        NOT NULL,
    tenant       text        NOT NULL,
    revision     integer     NOT NULL,  -- the plan revision that stood when the reminder was decided
    level        integer     NOT NULL,  -- the alert's level then: whom it sat with
    recipient    text        NOT NULL,
    reminded_at  timestamptz NOT NULL,  -- the service's clock
    PRIMARY KEY (alert_id, due_date)
);
-- A notification belongs to a transition or to a reminder, never both and never neither.
ALTER TABLE {schema}.notifications ALTER COLUMN transition_id DROP NOT NULL;
ALTER TABLE {schema}.notifications ADD COLUMN reminder_id uuid REFERENCES {schema}.plan_reminders (reminder_id);
ALTER TABLE {schema}.notifications ADD CONSTRAINT notifications_one_cause
    CHECK ((transition_id IS NULL) <> (reminder_id IS NULL));
ALTER TABLE {schema}.notifications ADD CONSTRAINT notifications_reminder_once UNIQUE (reminder_id, recipient, channel);
-- The sweeper looks for plans whose current revision is not done and has a due date.
CREATE INDEX plan_revisions_due ON {schema}.plan_revisions (due_date) WHERE status <> 'done' AND due_date IS NOT NULL;
