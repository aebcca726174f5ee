-- The newest OLTP snapshot a snapshot job read rows from: set when a job killed after its first
-- step resumes and reads the rest from a newer snapshot than its origin. Until the checkpoint
-- covers it, the tables loaded before the kill and after it show two moments, so `verify` and
-- the scheduled reconciliation do not compare. NULL: every row came from the origin.
alter table cdc_snapshot add column latest text;
