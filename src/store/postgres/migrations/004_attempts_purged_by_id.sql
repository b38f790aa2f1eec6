-- Retention purges attempts from the oldest id on (ids follow attempt time within the length of one attempt), so the
-- index on attempted_at alone only cost a B-tree insert per attempt.
DROP INDEX IF EXISTS attempts_by_time;
