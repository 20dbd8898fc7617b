-- Deja's system of record. The full postmortem is kept as a document (the
-- read model: proto3 JSON of deja.v1.Postmortem) next to normalised tables
-- that statistics and BI tools query. Every write keeps both in step inside
-- one transaction and adds an index_outbox row for the indexer.

CREATE TABLE postmortems (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team          text        NOT NULL,
  title         text        NOT NULL,
  summary       text        NOT NULL,
  severity      smallint    NOT NULL CHECK (severity BETWEEN 1 AND 5),
  status        text        NOT NULL,  -- DRAFT | IN_REVIEW | PUBLISHED
  started_at    timestamptz NOT NULL,
  detected_at   timestamptz,
  mitigated_at  timestamptz,
  resolved_at   timestamptz,
  impact_description text   NOT NULL DEFAULT '',
  users_affected bigint     NOT NULL DEFAULT 0,
  impact_seconds bigint,
  detection_source text     NOT NULL DEFAULT 'SOURCE_UNSPECIFIED',
  resolution    text        NOT NULL DEFAULT '',
  external_id   text        NOT NULL DEFAULT '',
  source_url    text        NOT NULL DEFAULT '',
  version       bigint      NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,            -- set by DeletePostmortem (retracted)
  document      jsonb       NOT NULL
);
-- Newest-first listing (keyset paging on started_at, id).
CREATE INDEX postmortems_started ON postmortems (started_at DESC, id DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX postmortems_team ON postmortems (team, started_at DESC)
  WHERE deleted_at IS NULL;

CREATE TABLE postmortem_services (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  service       text NOT NULL,
  PRIMARY KEY (postmortem_id, service)
);
CREATE INDEX postmortem_services_service ON postmortem_services (service);

CREATE TABLE postmortem_tags (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  tag           text NOT NULL,
  PRIMARY KEY (postmortem_id, tag)
);
CREATE INDEX postmortem_tags_tag ON postmortem_tags (tag);

CREATE TABLE timeline_events (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  position      int  NOT NULL,
  at            timestamptz,
  description   text NOT NULL,
  PRIMARY KEY (postmortem_id, position)
);

CREATE TABLE whys (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  position      int  NOT NULL,  -- 1 = the first "why?"
  question      text NOT NULL,
  answer        text NOT NULL,
  PRIMARY KEY (postmortem_id, position)
);

CREATE TABLE root_causes (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  position      int  NOT NULL,
  category      text NOT NULL,  -- deja.v1.RootCause.Category name
  description   text NOT NULL,
  PRIMARY KEY (postmortem_id, position)
);
CREATE INDEX root_causes_category ON root_causes (category);

CREATE TABLE contributing_factors (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  position      int  NOT NULL,
  description   text NOT NULL,
  PRIMARY KEY (postmortem_id, position)
);

-- The table behind the action_items view.
CREATE TABLE action_item_records (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  position      int  NOT NULL,
  description   text NOT NULL,
  owner         text NOT NULL,
  due_date      date,
  status        text NOT NULL,  -- OPEN | IN_PROGRESS | DONE | WONT_DO
  kind          text NOT NULL,  -- PREVENT | MITIGATE | DETECT | PROCESS | KIND_UNSPECIFIED
  tracker_url   text NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  UNIQUE (postmortem_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX action_item_records_status ON action_item_records (status, due_date);

CREATE TABLE action_item_history (
  id             bigserial PRIMARY KEY,
  action_item_id uuid NOT NULL REFERENCES action_item_records (id) ON DELETE CASCADE,
  at             timestamptz NOT NULL DEFAULT now(),
  field          text NOT NULL,  -- status | owner | due_date
  old_value      text NOT NULL,
  new_value      text NOT NULL
);
CREATE INDEX action_item_history_item ON action_item_history (action_item_id, at);

-- What a submitter declared in recurrence_of.
CREATE TABLE declared_recurrences (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  earlier_id    uuid NOT NULL,
  PRIMARY KEY (postmortem_id, earlier_id)
);

-- Idempotent submit: a request_id remembers what it created.
CREATE TABLE submit_requests (
  request_id     text PRIMARY KEY,
  content_sha256 bytea NOT NULL,
  postmortem_id  uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Work for the indexer, written in the same transaction as each change.
CREATE TABLE index_outbox (
  id            bigserial PRIMARY KEY,
  postmortem_id uuid   NOT NULL,
  version       bigint NOT NULL,
  operation     text   NOT NULL CHECK (operation IN ('upsert', 'delete')),
  enqueued_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Wakes the indexer (LISTEN deja_index) when the writing transaction commits.
CREATE FUNCTION index_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('deja_index', NEW.postmortem_id::text);
  RETURN NEW;
END;
$$;
CREATE TRIGGER index_outbox_notify AFTER INSERT ON index_outbox
  FOR EACH ROW EXECUTE FUNCTION index_outbox_notify();

-- Views for people who point a BI tool at the database (docs/database.md).
CREATE VIEW incidents AS
SELECT p.id,
       p.team,
       p.title,
       'SEV' || p.severity AS severity,
       p.status,
       p.started_at,
       p.detected_at,
       p.mitigated_at,
       p.resolved_at,
       p.detected_at - p.started_at  AS time_to_detect,
       p.resolved_at - p.started_at  AS time_to_resolve,
       p.users_affected,
       p.detection_source,
       ARRAY(SELECT s.service FROM postmortem_services s
             WHERE s.postmortem_id = p.id ORDER BY s.service) AS services,
       ARRAY(SELECT t.tag FROM postmortem_tags t
             WHERE t.postmortem_id = p.id ORDER BY t.tag) AS tags,
       ARRAY(SELECT DISTINCT r.category FROM root_causes r
             WHERE r.postmortem_id = p.id) AS cause_categories,
       p.version,
       p.created_at,
       p.updated_at
FROM postmortems p
WHERE p.deleted_at IS NULL;

CREATE VIEW action_items AS
SELECT a.id,
       a.postmortem_id,
       p.team,
       p.title AS postmortem_title,
       a.description,
       a.owner,
       a.due_date,
       a.status,
       a.kind,
       a.tracker_url,
       a.status IN ('OPEN', 'IN_PROGRESS') AS is_open,
       a.status IN ('OPEN', 'IN_PROGRESS') AND a.due_date < current_date AS is_overdue,
       a.created_at,
       a.completed_at
FROM action_item_records a
JOIN postmortems p ON p.id = a.postmortem_id
WHERE p.deleted_at IS NULL;
