-- Each transition's plain explanation as numbers (domain/explain.py): what the rules saw then, so the e-mail and
-- the API can say it in the tenant's language later, whatever the policy has become since. NULL: a transition
-- made by hand, or stored before explanations were.
ALTER TABLE {schema}.transitions ADD COLUMN explanation jsonb;
