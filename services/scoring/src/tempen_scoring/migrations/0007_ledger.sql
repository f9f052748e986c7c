-- ONE ledger row per submission instead of one contribution row per model plus a tombstone row: the
-- row decides whether a redelivered or corrected submission changes anything, and says what to take
-- back from the aggregates. A new submission's row is COPYed straight in; only a correction or a
-- retraction of one already scored rewrites its row.
--   contributions: {"model": {"revision", "instrument", "unit", "period", "item_values",
--                   "dimension_scores"}}, what the submission adds to each model's aggregates now
--   retracted_revision: the revision of its GDPR retraction, if any: nothing older may come back
CREATE TABLE {schema}.ledger (
    tenant             text        NOT NULL,
    submission_id      text        NOT NULL,
    respondent         text,
    retracted_revision integer,
    contributions      jsonb       NOT NULL,
    scored_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, submission_id)
);

INSERT INTO {schema}.ledger
SELECT tenant, submission_id,
    (array_agg(respondent ORDER BY revision DESC) FILTER (WHERE model <> ''))[1],
    max(revision) FILTER (WHERE model = ''),
    coalesce(jsonb_object_agg(model, jsonb_build_object(
        'revision', revision, 'instrument', instrument, 'unit', unit, 'period', period,
        'item_values', item_values, 'dimension_scores', dimension_scores)) FILTER (WHERE model <> ''), '{}'::jsonb),
    max(scored_at)
FROM {schema}.contributions
GROUP BY tenant, submission_id;

DROP TABLE {schema}.contributions;

CREATE INDEX ledger_respondent ON {schema}.ledger (tenant, respondent) WHERE respondent IS NOT NULL;

-- The old table's shape as a read-only view: a row per submission and model, and a tombstone row
-- (model '') per retraction.
CREATE VIEW {schema}.contributions AS
SELECT l.tenant, l.submission_id, m.key AS model, (m.value ->> 'revision')::integer AS revision,
    m.value ->> 'instrument' AS instrument, m.value ->> 'unit' AS unit, m.value ->> 'period' AS period,
    m.value -> 'item_values' AS item_values, m.value -> 'dimension_scores' AS dimension_scores,
    l.respondent, l.scored_at
FROM {schema}.ledger l, jsonb_each(l.contributions) m
UNION ALL
SELECT tenant, submission_id, '', retracted_revision, '', '', '', '{}'::jsonb, '{}'::jsonb, NULL, scored_at
FROM {schema}.ledger
WHERE retracted_revision IS NOT NULL;
