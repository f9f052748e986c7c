-- A group's scores as ONE row per (slice, unit, scope) instead of one row per dimension: a batch
-- rewrote about four score rows per submission, each as wide as its details. A group's figures
-- change together (the same respondents answer its dimensions), so they are stored together, with
-- one sequence number for the group, and rewritten whole when any of them changes.
--   figures: {"dimension": {"respondents", "publishable", "suppression_reason", "index",
--             "standard_error", "favourable_pct", "details", "tenant_index"}}
-- A group's sequence is above every sequence any of its dimensions had, so each score series still
-- sees its sequence numbers grow.
CREATE TABLE {schema}.score_groups (
    tenant             text        NOT NULL,
    instrument         text        NOT NULL,
    model              text        NOT NULL,
    period             text        NOT NULL,
    unit               text        NOT NULL,
    scope              text        NOT NULL CHECK (scope IN ('unit', 'subtree')),
    model_version      text        NOT NULL,
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL,
    figures            jsonb       NOT NULL,
    sequence           integer     NOT NULL,
    published_sequence integer     NOT NULL DEFAULT 0,
    computed_at        timestamptz NOT NULL DEFAULT now(),
    correlation_id     text,
    PRIMARY KEY (tenant, instrument, model, period, unit, scope)
);

INSERT INTO {schema}.score_groups
SELECT tenant, instrument, model, period, unit, scope, max(model_version), min(period_start), max(period_end),
    jsonb_object_agg(dimension, jsonb_build_object(
        'respondents', respondents, 'publishable', publishable, 'suppression_reason', suppression_reason,
        'index', index, 'standard_error', standard_error, 'favourable_pct', favourable_pct, 'details', details,
        'tenant_index', tenant_index)),
    max(sequence),
    -- Published whole, or waiting to be: a group with any dimension unpublished is published again.
    CASE WHEN bool_and(published_sequence >= sequence) THEN max(sequence) ELSE 0 END,
    max(computed_at),
    (array_agg(correlation_id ORDER BY sequence DESC) FILTER (WHERE correlation_id IS NOT NULL))[1]
FROM {schema}.scores
GROUP BY tenant, instrument, model, period, unit, scope;

DROP TABLE {schema}.scores;

CREATE INDEX score_groups_unit ON {schema}.score_groups (tenant, unit, model, period_start);
CREATE INDEX score_groups_unpublished ON {schema}.score_groups (tenant, instrument, model, period)
    WHERE sequence > published_sequence;

-- The old table's shape, one row per dimension, as a read-only view: the read API, `tempen alerts
-- backtest` and operators' queries read it.
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
    g.sequence, g.computed_at, g.published_sequence,
    (f.value ->> 'tenant_index')::double precision AS tenant_index,
    g.correlation_id
FROM {schema}.score_groups g, jsonb_each(g.figures) f;
