-- ---------------------------------------------------------------------------------------------
-- Warehouse adoption: the original's coffee_olap is moved aside (schema brewlytics_legacy, rows
-- kept, nothing converted: every fact of ours is rebuilt from OLTP by the daemon's initial
-- snapshot, and the original's facts hold duplicates and demo rows anyway). Afterwards `public`
-- is empty and refinery runs our OLAP migrations as on a new warehouse.
-- ---------------------------------------------------------------------------------------------
set local lock_timeout = '10s';
create temp table adopt_detect on commit drop as
