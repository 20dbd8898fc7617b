-- Recurrence linking runs behind the index. The indexer commits a batch of
-- index_outbox changes to Xapian (from then on they are searchable), then
-- deletes those rows and adds one row here per upserted postmortem, in one
-- transaction. Its linker records each postmortem's "more like this" links
-- from these rows and deletes them: a slow linking pass never holds up
-- search, and a crash before the delete only links a postmortem again.
CREATE TABLE link_outbox (
  id            bigserial PRIMARY KEY,
  postmortem_id uuid   NOT NULL,
  version       bigint NOT NULL,
  enqueued_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
