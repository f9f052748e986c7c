-- Which org tree each slice was last rolled up against (`OrgTree.shape`), and the end of its period,
-- so a new org version finds the slices it changes: those whose period's last day now falls under a
-- tree of another shape are rescored whole. NULL shape: unknown, rescored on the first reconciliation.
ALTER TABLE {schema}.slice_versions ADD COLUMN period_end timestamptz, ADD COLUMN org_shape text;

UPDATE {schema}.slice_versions v SET period_end = g.period_end
FROM (SELECT DISTINCT ON (tenant, instrument, model, period) tenant, instrument, model, period, period_end
      FROM {schema}.groups ORDER BY tenant, instrument, model, period) g
WHERE (g.tenant, g.instrument, g.model, g.period) = (v.tenant, v.instrument, v.model, v.period);
