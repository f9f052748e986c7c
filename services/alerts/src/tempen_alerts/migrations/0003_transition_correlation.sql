-- The correlation id (tenant:submission_id) of the score event that caused a transition, so an alert
-- can be traced back to a submission and its notifications' log lines carry it. NULL for decisions
-- made as time passed (the sweeper) and for those made by hand.
ALTER TABLE {schema}.transitions ADD COLUMN correlation_id text;
