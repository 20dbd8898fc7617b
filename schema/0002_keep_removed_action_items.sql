-- An action item removed by an update keeps its row and its history: it is
-- marked removed_at instead of deleted (deleting cascaded to
-- action_item_history). The action_items view shows only current items.

ALTER TABLE action_item_records ADD COLUMN removed_at timestamptz;

-- Positions stay unique among current items only; removed rows keep the
-- position they last had. An exclusion constraint, unlike a partial unique
-- index, can be checked at commit, which reordering items in place needs.
ALTER TABLE action_item_records
  DROP CONSTRAINT action_item_records_postmortem_id_position_key;
ALTER TABLE action_item_records
  ADD CONSTRAINT action_item_records_current_position
  EXCLUDE USING btree (postmortem_id WITH =, position WITH =)
  WHERE (removed_at IS NULL)
  DEFERRABLE INITIALLY DEFERRED;

CREATE OR REPLACE VIEW action_items AS
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
WHERE p.deleted_at IS NULL AND a.removed_at IS NULL;

-- The team filter ignores case and surrounding spaces (rows written before
-- teams were trimmed included).
DROP INDEX postmortems_team;
CREATE INDEX postmortems_team ON postmortems (lower(btrim(team)), started_at DESC)
  WHERE deleted_at IS NULL;
