-- Recurrence links, the error signatures of each postmortem, and the views
-- that statistics (StatsService) and BI tools read (docs/database.md).

-- "postmortem_id is another one of earlier_id". AUTO links are suggested by
-- the indexer from each postmortem's best matches; DECLARED ones mirror the
-- submitter's recurrence_of. A person confirms or rejects either; a
-- REJECTED link is never suggested again (the indexer leaves it alone).
CREATE TABLE recurrence_links (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  earlier_id    uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  source        text NOT NULL CHECK (source IN ('AUTO', 'DECLARED')),
  state         text NOT NULL CHECK (state IN ('SUGGESTED', 'CONFIRMED', 'REJECTED')),
  score         double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
  reasons       jsonb NOT NULL DEFAULT '[]',  -- array of short strings
  decided_by    text NOT NULL DEFAULT '',
  note          text NOT NULL DEFAULT '',
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (postmortem_id, earlier_id),
  CHECK (postmortem_id <> earlier_id)
);
CREATE INDEX recurrence_links_earlier ON recurrence_links (earlier_id);

-- Declarations made before this migration become confirmed links, under the
-- rules the store applies to new ones: both live, the earlier one did not
-- start later.
INSERT INTO recurrence_links (postmortem_id, earlier_id, source, state, score)
SELECT d.postmortem_id, d.earlier_id, 'DECLARED', 'CONFIRMED', 1
FROM declared_recurrences d
JOIN postmortems p ON p.id = d.postmortem_id AND p.deleted_at IS NULL
JOIN postmortems e ON e.id = d.earlier_id AND e.deleted_at IS NULL
WHERE d.postmortem_id <> d.earlier_id AND e.started_at <= p.started_at
ON CONFLICT DO NOTHING;

-- Error signatures of each postmortem's log lines (core/error_signature.h),
-- written with the postmortem. Rows written before this table existed have
-- signatures_version 0 and are filled in by dejad at start.
CREATE TABLE postmortem_signatures (
  postmortem_id uuid NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
  signature     text NOT NULL,
  example       text NOT NULL,  -- the normalised line
  PRIMARY KEY (postmortem_id, signature)
);
CREATE INDEX postmortem_signatures_signature ON postmortem_signatures (signature);
ALTER TABLE postmortems ADD COLUMN signatures_version smallint NOT NULL DEFAULT 0;
-- Makes the start-up check "anything left to fill in?" an index probe.
CREATE INDEX postmortems_signatures_pending ON postmortems (id)
  WHERE signatures_version = 0;

CREATE INDEX action_item_records_postmortem ON action_item_records (postmortem_id)
  WHERE removed_at IS NULL;
-- Statistics filter services ignoring case.
CREATE INDEX postmortem_services_lower ON postmortem_services (lower(service));

-- Every link between two live postmortems. `counted`: the link joins
-- recurrence clusters and repeat statistics (confirmed, or suggested with a
-- score of at least 0.85; declared links start confirmed).
CREATE VIEW recurrences AS
SELECT l.postmortem_id,
       p.title,
       p.team,
       p.started_at,
       l.earlier_id,
       e.title      AS earlier_title,
       e.team       AS earlier_team,
       e.started_at AS earlier_started_at,
       p.started_at - e.started_at AS time_since_earlier,
       l.source,
       l.state,
       l.score,
       l.reasons,
       l.state = 'CONFIRMED' OR (l.state = 'SUGGESTED' AND l.score >= 0.85) AS counted,
       l.decided_by,
       l.note,
       l.decided_at,
       l.created_at
FROM recurrence_links l
JOIN postmortems p ON p.id = l.postmortem_id AND p.deleted_at IS NULL
JOIN postmortems e ON e.id = l.earlier_id AND e.deleted_at IS NULL;

-- Detection, mitigation and resolution times of every live incident (NULL
-- where a timestamp is missing), as intervals and as seconds.
CREATE VIEW incident_durations AS
SELECT p.id,
       p.team,
       p.title,
       'SEV' || p.severity AS severity,
       p.started_at,
       p.detected_at - p.started_at  AS time_to_detect,
       p.mitigated_at - p.started_at AS time_to_mitigate,
       p.resolved_at - p.started_at  AS time_to_resolve,
       extract(epoch FROM p.detected_at - p.started_at)  AS time_to_detect_seconds,
       extract(epoch FROM p.mitigated_at - p.started_at) AS time_to_mitigate_seconds,
       extract(epoch FROM p.resolved_at - p.started_at)  AS time_to_resolve_seconds
FROM postmortems p
WHERE p.deleted_at IS NULL;

-- Every current action item with what follow-through asks of it:
-- time_to_close runs from the incident's resolution (its start when it has
-- none) to the item's completion.
CREATE VIEW action_item_followthrough AS
SELECT a.id,
       a.postmortem_id,
       p.team,
       p.title AS postmortem_title,
       p.started_at AS incident_started_at,
       a.description,
       a.owner,
       a.kind,
       a.status,
       a.due_date,
       a.completed_at,
       a.status IN ('OPEN', 'IN_PROGRESS') AS is_open,
       a.status IN ('OPEN', 'IN_PROGRESS') AND a.due_date < current_date AS is_overdue,
       CASE WHEN a.status = 'DONE'
            THEN a.completed_at - coalesce(p.resolved_at, p.started_at) END AS time_to_close
FROM action_item_records a
JOIN postmortems p ON p.id = a.postmortem_id
WHERE p.deleted_at IS NULL AND a.removed_at IS NULL;
