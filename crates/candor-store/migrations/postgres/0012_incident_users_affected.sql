-- How many of a component's users an incident (or one of its updates) affected, when the
-- operator declared it: the SLA's user-minute formula weighs downtime by it. NULL: not declared
-- (the component's status weight applies).
ALTER TABLE incident_components ADD COLUMN users_affected BIGINT;
ALTER TABLE incident_update_components ADD COLUMN users_affected BIGINT;
