-- Stored documents (2-8 KB of JSON each) are compressed with lz4 instead of
-- pglz: writing and reading them back (the detail rows are derived from the
-- stored document in the same transaction) was a fifth of PostgreSQL's CPU
-- during a bulk import. Only values written from now on change. A server
-- built without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE postmortems ALTER COLUMN document SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available; stored documents stay compressed with pglz';
END
$$;
