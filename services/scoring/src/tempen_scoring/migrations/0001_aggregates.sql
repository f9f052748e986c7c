-- One row per submission and model: what it contributed, so a correction can take it back exactly.
CREATE TABLE {schema}.contributions (
    tenant           text        NOT NULL,
    submission_id    text        NOT NULL,
    model            text        NOT NULL,
    revision         integer     NOT NULL,
    instrument       text        NOT NULL,
    unit             text        NOT NULL,
    period           text        NOT NULL,
    item_values      jsonb       NOT NULL,
    dimension_scores jsonb       NOT NULL,
    respondent       text,
    scored_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, submission_id, model)
);
CREATE INDEX contributions_respondent ON {schema}.contributions (tenant, respondent) WHERE respondent IS NOT NULL;

-- Additive aggregates per (tenant, unit, instrument, model, period): answer counts per item and value,
-- respondents, and moments of respondent-level dimension scores (numeric, so add and remove are exact).
CREATE TABLE {schema}.groups (
    tenant       text        NOT NULL,
    unit         text        NOT NULL,
    instrument   text        NOT NULL,
    model        text        NOT NULL,
    period       text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    respondents  integer     NOT NULL,
    PRIMARY KEY (tenant, instrument, model, period, unit)
);
CREATE TABLE {schema}.item_counts (
    tenant     text    NOT NULL,
    unit       text    NOT NULL,
    instrument text    NOT NULL,
    model      text    NOT NULL,
    period     text    NOT NULL,
    item       text    NOT NULL,
    value      integer NOT NULL,
    count      integer NOT NULL,
    PRIMARY KEY (tenant, instrument, model, period, unit, item, value)
);
CREATE TABLE {schema}.dimension_moments (
    tenant     text    NOT NULL,
    unit       text    NOT NULL,
    instrument text    NOT NULL,
    model      text    NOT NULL,
    period     text    NOT NULL,
    dimension  text    NOT NULL,
    n          integer NOT NULL,
    sum        numeric NOT NULL,
    sumsq      numeric NOT NULL,
    PRIMARY KEY (tenant, instrument, model, period, unit, dimension)
);

-- The scores as last computed, publishable or not (with the reason), served by the read API.
CREATE TABLE {schema}.scores (
    tenant             text        NOT NULL,
    unit               text        NOT NULL,
    scope              text        NOT NULL CHECK (scope IN ('unit', 'subtree')),
    instrument         text        NOT NULL,
    model              text        NOT NULL,
    model_version      text        NOT NULL,
    dimension          text        NOT NULL,
    period             text        NOT NULL,
    period_start       timestamptz NOT NULL,
    period_end         timestamptz NOT NULL,
    respondents        integer     NOT NULL,
    publishable        boolean     NOT NULL,
    suppression_reason text,
    index              double precision,
    standard_error     double precision,
    favourable_pct     double precision,
    details            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    sequence           integer     NOT NULL,
    computed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, instrument, model, period, unit, scope, dimension)
);
CREATE INDEX scores_series ON {schema}.scores (tenant, unit, model, dimension, period_start);
