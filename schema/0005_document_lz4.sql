-- Stored documents (2-8 KB of JSON each) are compressed with lz4 instead of
-- pglz: writing and reading them back (the detail rows are derived from the
-- stored document in the same transaction) was a tenth of all CPU during a
-- bulk import. Only values written from now on change. A server without
-- lz4, or older than PostgreSQL 14 (no per-column compression), keeps pglz.
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    EXECUTE 'ALTER TABLE postmortems ALTER COLUMN document SET COMPRESSION lz4';
  END IF;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available; stored documents stay compressed with pglz';
END
$$;
