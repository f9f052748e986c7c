-- The score groups are their own outbox, as ingest's submissions are (ingest migration 0004). Until
-- now each changed group cost four writes: the group row, an update marking it published (the
-- whole row again, about 1 KB), an outbox row and the outbox row marked published. Now a group row
-- draws the next `revision` on every write, under an advisory lock held to commit (revision order is
-- commit order), and the relay publishes rows in revision order from a position kept per broker
-- (cluster id): one write per changed group and one position per relay round. A group rewritten
-- twice between two rounds is published once, at its newest figures.
CREATE SEQUENCE {schema}.score_revision;

ALTER TABLE {schema}.score_groups ADD COLUMN revision bigint;

-- Published groups first, then those waiting, so one position covers exactly what was published.
UPDATE {schema}.score_groups g SET revision = o.revision
FROM (
    SELECT tenant, instrument, model, period, unit, scope,
        row_number() OVER (ORDER BY sequence > published_sequence, computed_at, tenant, instrument, model,
                                    period, unit, scope) AS revision
    FROM {schema}.score_groups
) o
WHERE (g.tenant, g.instrument, g.model, g.period, g.unit, g.scope)
    = (o.tenant, o.instrument, o.model, o.period, o.unit, o.scope);

SELECT setval('{schema}.score_revision', coalesce(max(revision), 0) + 1, false) FROM {schema}.score_groups;

ALTER TABLE {schema}.score_groups ALTER COLUMN revision SET NOT NULL;
CREATE UNIQUE INDEX score_groups_revision ON {schema}.score_groups (revision);

CREATE TABLE {schema}.relay_positions (
    epoch      text        PRIMARY KEY,  -- the broker's cluster id
    position   bigint      NOT NULL,     -- the highest revision published to it
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The broker the outbox relay published to last has every group marked published; another broker
-- (or none known yet) gets every group again, which consumers deduplicate by event id.
INSERT INTO {schema}.relay_positions (epoch, position)
SELECT o.broker_epoch,
    coalesce((SELECT max(revision) FROM {schema}.score_groups WHERE sequence <= published_sequence), 0)
FROM (
    SELECT broker_epoch FROM {schema}.outbox
    WHERE broker_epoch IS NOT NULL AND published_at IS NOT NULL
    ORDER BY published_at DESC
    LIMIT 1
) o;

-- The view of migration 0006 without `published_sequence`, which goes.
DROP VIEW {schema}.scores;
DROP INDEX {schema}.score_groups_unpublished;
ALTER TABLE {schema}.score_groups DROP COLUMN published_sequence;

CREATE VIEW {schema}.scores AS
SELECT g.tenant, g.unit, g.scope, g.instrument, g.model, g.model_version, f.key AS dimension, g.period,
    g.period_start, g.period_end,
    (f.value ->> 'respondents')::integer AS respondents,
    (f.value ->> 'publishable')::boolean AS publishable,
    f.value ->> 'suppression_reason' AS suppression_reason,
    (f.value ->> 'index')::double precision AS index,
    (f.value ->> 'standard_error')::double precision AS standard_error,
    (f.value ->> 'favourable_pct')::double precision AS favourable_pct,
    f.value -> 'details' AS details,
    g.sequence, g.computed_at,
    (f.value ->> 'tenant_index')::double precision AS tenant_index,
    g.correlation_id
FROM {schema}.score_groups g, jsonb_each(g.figures) f;
