-- ---------------------------------------------------------------------------------------------
-- Adoption step 1/5: settings, schema check, lock, data check. Runs inside the adoption transaction.
-- ---------------------------------------------------------------------------------------------
-- Writers of the original (its API, k6, Airflow) must be stopped; if one still holds a lock the
-- adoption gives up after lock_timeout instead of stalling them. The caller may override it.
set local lock_timeout = '10s';
set local timezone = 'UTC';
-- The sorts and hashes of the copy (one pass over each table).
set local work_mem = '64MB';
set local maintenance_work_mem = '256MB';

-- What is this database? (detect.sql, included verbatim right after this file)
create temp table adopt_detect on commit drop as
