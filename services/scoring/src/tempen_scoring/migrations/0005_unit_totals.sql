-- A group's additive aggregate as ONE row per (slice, unit) instead of one row per answer value and per
-- dimension: a submission used to cost about 27 upserted rows (respondents, ~21 answer counts, ~5
-- moments); now a batch writes one row for each unit it changed, with the unit's totals as scoring
-- holds them in memory. The row is written whole (not merged by addition) under the slice's
-- `slice_versions` lock, so replicas still never interleave writes of one slice.
--   counts:  {"item": {"value": count}}, zero counts left out
--   moments: {"dimension": [n, "sum", "sum of squares"]}, exact decimals as strings, n = 0 left out
CREATE TABLE {schema}.unit_totals (
    tenant       text        NOT NULL,
    instrument   text        NOT NULL,
    model        text        NOT NULL,
    period       text        NOT NULL,
    unit         text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    respondents  integer     NOT NULL,
    counts       jsonb       NOT NULL,
    moments      jsonb       NOT NULL,
    PRIMARY KEY (tenant, instrument, model, period, unit)
);

INSERT INTO {schema}.unit_totals
SELECT g.tenant, g.instrument, g.model, g.period, g.unit, g.period_start, g.period_end, g.respondents,
    coalesce((
        SELECT jsonb_object_agg(per_item.item, per_item.values_)
        FROM (
            SELECT c.item, jsonb_object_agg(c.value::text, c.count) AS values_
            FROM {schema}.item_counts c
            WHERE (c.tenant, c.instrument, c.model, c.period, c.unit) = (g.tenant, g.instrument, g.model, g.period, g.unit)
              AND c.count <> 0
            GROUP BY c.item
        ) per_item
    ), '{}'::jsonb),
    coalesce((
        SELECT jsonb_object_agg(m.dimension, jsonb_build_array(m.n, m.sum::text, m.sumsq::text))
        FROM {schema}.dimension_moments m
        WHERE (m.tenant, m.instrument, m.model, m.period, m.unit) = (g.tenant, g.instrument, g.model, g.period, g.unit)
          AND m.n <> 0
    ), '{}'::jsonb)
FROM {schema}.groups g;

DROP TABLE {schema}.item_counts, {schema}.dimension_moments, {schema}.groups;

-- The old tables' shapes as read-only views, for operators' queries and the checks that sum them.
CREATE VIEW {schema}.groups AS
SELECT tenant, unit, instrument, model, period, period_start, period_end, respondents FROM {schema}.unit_totals;

CREATE VIEW {schema}.item_counts AS
SELECT t.tenant, t.unit, t.instrument, t.model, t.period, i.key AS item, v.key::integer AS value,
    v.value::integer AS count
FROM {schema}.unit_totals t, jsonb_each(t.counts) i, jsonb_each_text(i.value) v;

CREATE VIEW {schema}.dimension_moments AS
SELECT t.tenant, t.unit, t.instrument, t.model, t.period, m.key AS dimension, (m.value ->> 0)::integer AS n,
    (m.value ->> 1)::numeric AS sum, (m.value ->> 2)::numeric AS sumsq
FROM {schema}.unit_totals t, jsonb_each(t.moments) m;
