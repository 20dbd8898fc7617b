"""The PostgreSQL full-text baseline of the similarity evaluation.

One table in a database of its own on dejad's embedded cluster: a stored
tsvector over title + summary + text ('english'), a GIN index; each query's
words OR-ed into a tsquery, ranked by ts_rank_cd, with the reference's
probe / as_of filtering (dates compared as text, as score_bm25.py does).
Nothing is built from query text: documents and queries go in with \\copy.
"""
import csv
import os
import re

DATABASE = "deja_eval_fts"
QUERY_FIELDS = ("query", "log_lines", "services")  # score_bm25.py's default

SCHEMA = """
CREATE TABLE doc (
  id text PRIMARY KEY,
  day text,
  title text,
  summary text,
  body text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english',
      coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || coalesce(body, ''))) STORED
);
CREATE INDEX doc_tsv ON doc USING gin (tsv);
CREATE TABLE query (qid text PRIMARY KEY, words text, as_of text, probe text);
"""

RANKING = """
SELECT q.qid, r.id
FROM query q CROSS JOIN LATERAL (
  SELECT d.id, row_number() OVER (ORDER BY ts_rank_cd(d.tsv, tq) DESC, d.id) AS pos
  FROM doc d, to_tsquery('english', q.words) tq
  WHERE d.tsv @@ tq
    AND (q.probe IS NULL OR d.id <> q.probe)
    AND (q.as_of IS NULL OR d.day IS NULL OR d.day < q.as_of)
  ORDER BY pos
  LIMIT %d) r
ORDER BY q.qid, r.pos;
"""


def query_words(q):
    """The query's distinct words (score_bm25's tokens), OR-ed for to_tsquery."""
    parts = []
    for field in QUERY_FIELDS:
        value = q.get(field)
        if value:
            parts.append(" ".join(value) if isinstance(value, list) else str(value))
    words = []
    for word in re.findall(r"[a-z0-9]+", " ".join(parts).lower()):
        if word not in words:
            words.append(word)
    return " | ".join(words)


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def rank(dejad, records, queries, work_dir, limit=20):
    """{qid: (ranked corpus ids, verdict)}; verdict NEW when nothing matches."""
    docs_csv = os.path.join(work_dir, "fts-docs.csv")
    queries_csv = os.path.join(work_dir, "fts-queries.csv")
    # None becomes an unquoted empty field: NULL in CSV COPY.
    _write_csv(docs_csv, [(r["id"], r.get("date"), r.get("title"), r.get("summary"),
                           (r.get("text") or "").replace("\x00", "")) for r in records])
    _write_csv(queries_csv, [(q["qid"], query_words(q), q.get("as_of"), q.get("probe"))
                             for q in queries])
    dejad.psql("DROP DATABASE IF EXISTS %s;\nCREATE DATABASE %s;\n" % (DATABASE, DATABASE))
    dejad.psql(SCHEMA + "\\copy doc (id, day, title, summary, body) FROM '%s' WITH (FORMAT csv)\n"
               "\\copy query FROM '%s' WITH (FORMAT csv)\nANALYZE doc;\n"
               % (docs_csv, queries_csv), database=DATABASE)
    out = dejad.psql(RANKING % int(limit), database=DATABASE)
    ranked = {q["qid"]: [] for q in queries}
    for line in out.splitlines():
        if line:
            qid, doc_id = line.split("\t")
            ranked[qid].append(doc_id)
    return {qid: (ids, "NEW" if not ids else "SEEN_BEFORE") for qid, ids in ranked.items()}
