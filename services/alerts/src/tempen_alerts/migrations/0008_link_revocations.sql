-- The personal link in one e-mail can be revoked on its own (a forwarded or mis-sent e-mail, someone who
-- left), where changing TEMPEN_LINK_SECRET would revoke every link at once. One row per revoked link,
-- which is also the audit trail of it: when, by whom (the operator's name as the CLI sent it) and why.
-- The portal refuses a revoked link and ends the sessions it opened (docs/portal.md).
CREATE TABLE {schema}.link_revocations (
    notification_id uuid        PRIMARY KEY REFERENCES {schema}.notifications (notification_id),
    tenant          text        NOT NULL,
    alert_id        text        NOT NULL,
    revoked_at      timestamptz NOT NULL,
    revoked_by      text        NOT NULL,
    reason          text        NOT NULL
);
-- The portal asks for the revocations since a time, per tenant.
CREATE INDEX link_revocations_by_tenant_time ON {schema}.link_revocations (tenant, revoked_at);
-- A person's links: their e-mail notifications, looked up by address (case-insensitively).
CREATE INDEX notifications_by_recipient ON {schema}.notifications (tenant, lower(recipient));
