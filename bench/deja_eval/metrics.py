"""Retrieval metrics, defined exactly as /work/shared/eval/score_bm25.py does.

Per query (macro-averaged over the queries that keep judgements):
  recall_at_5   hits in the top 5 / min(5, |relevant|) (grade >= 1): the capped
                recall, score_bm25's "recall@5cap"
  success_at_5  1 when any relevant incident is in the top 5
  mrr_at_10     1 / rank of the first hit in the top 10; a hit is grade 2 for
                mechanism queries, grade >= 1 for recurrence queries
  ndcg_at_10    gain 2^grade - 1, ideal ranking from the judged grades
Over verdicts:
  nomatch_new      share of nomatch queries whose overall verdict is NEW
  matched_not_new  share of the scored (judged) other queries whose verdict is
                   not NEW
Filtering as the reference: the probe is removed from the ranking; relevant
ids that are unknown, the probe, or dated on/after as_of (undated stay) are
dropped from the judgement.
"""
import math

METRIC_KEYS = ("recall_at_5", "success_at_5", "mrr_at_10", "ndcg_at_10",
               "nomatch_new", "matched_not_new")
RANKING_KEYS = METRIC_KEYS[:4]
TYPES = ("mechanism", "recurrence", "nomatch")


def query_type(q):
    """The query's type, inferred as the reference does when it is missing."""
    return q.get("type") or ("recurrence" if q.get("probe") else
                             ("mechanism" if q.get("relevant") else "nomatch"))


def eligible(doc_date, doc_id, probe=None, as_of=None):
    """score_bm25.BM25.eligible: not the probe, and dated before as_of if dated."""
    if doc_id == probe:
        return False
    return not (as_of and doc_date and doc_date >= as_of)


def judgements(q, dates):
    """(relevant {id: grade}, warnings) after the reference's filtering.
    `dates` maps every corpus id to its `date` (YYYY-MM-DD or None)."""
    rel, warnings = {}, []
    for doc_id, grade in (q.get("relevant") or {}).items():
        if doc_id not in dates:
            warnings.append("%s: unknown id %s" % (q["qid"], doc_id))
        elif not eligible(dates[doc_id], doc_id, q.get("probe"), q.get("as_of")):
            warnings.append("%s: relevant %s is filtered by probe/as_of; ignored"
                            % (q["qid"], doc_id))
        else:
            rel[doc_id] = grade
    return rel, warnings


def ranking_metrics(ranked, rel, qtype):
    """The four ranking metrics of one query; `rel` must not be empty."""
    rel1 = {d: g for d, g in rel.items() if g >= 1}
    top5, top10 = ranked[:5], ranked[:10]
    hits5 = len([d for d in top5 if d in rel1])
    need = 1 if qtype == "recurrence" else 2
    rr = next((1.0 / (i + 1) for i, d in enumerate(top10) if rel.get(d, 0) >= need), 0.0)
    dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(top10))
    ideal = sorted(rel1.values(), reverse=True)[:10]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return {"recall_at_5": hits5 / min(5, len(rel1)),
            "success_at_5": 1.0 if hits5 else 0.0,
            "mrr_at_10": rr,
            "ndcg_at_10": dcg / idcg if idcg else 0.0}


def _mean(values):
    return sum(values) / len(values) if values else None


def evaluate(queries, results, dates):
    """Scores one system.

    queries: the query records; results: {qid: (ranked corpus ids, verdict)}
    where verdict is "NEW", "SEEN_BEFORE", "POSSIBLY_RELATED" or None when the
    system gives none; dates: {corpus id: date or None}.
    Returns {"overall": {key: value or None}, "per_type": {type: {...}},
    "per_query": [{qid, type, ...}], "warnings": [...]}.
    A metric is None when no query could be scored for it.
    """
    per_query, warnings = [], []
    for q in queries:
        qtype = query_type(q)
        ranked, verdict = results.get(q["qid"], ([], None))
        ranked = [d for d in ranked if d != q.get("probe")]
        row = {"qid": q["qid"], "type": qtype, "verdict": verdict}
        rel, why = judgements(q, dates)
        warnings.extend(why)
        if qtype == "nomatch":
            if rel:
                warnings.append("%s: nomatch query has judgements" % q["qid"])
            if verdict is not None:
                row["nomatch_new"] = 1.0 if verdict == "NEW" else 0.0
        elif not rel:
            warnings.append("%s: no usable judgements" % q["qid"])
        else:
            row.update(ranking_metrics(ranked, rel, qtype))
            row["relevant"] = len(rel)
            row["first_relevant_rank"] = next(
                (i + 1 for i, d in enumerate(ranked) if d in rel), None)
            if verdict is not None:
                row["matched_not_new"] = 0.0 if verdict == "NEW" else 1.0
        per_query.append(row)

    def aggregate(rows):
        return {k: _mean([r[k] for r in rows if k in r]) for k in METRIC_KEYS}

    per_type = {t: aggregate([r for r in per_query if r["type"] == t])
                for t in TYPES if any(r["type"] == t for r in per_query)}
    return {"overall": aggregate(per_query), "per_type": per_type,
            "per_query": per_query, "warnings": warnings}


def corpus_dates(records):
    """{id: date} for evaluate()."""
    return {r["id"]: r.get("date") for r in records}
