"""Unit checks of corpus.py and metrics.py.

  /usr/bin/python3 -m unittest -v bench/deja_eval/test_deja_eval.py   (from the repo)

metrics.py is checked against the reference scorer itself: its own BM25
ranking, scored here, must give the reference's per-query and overall figures.
Needs /work/shared (or DEJA_EVAL_DIR / DEJA_CORPUS) and protoc.
"""
import datetime
import importlib.util
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from deja_eval import corpus, metrics, stubs  # noqa: E402

EVAL_DIR = os.environ.get("DEJA_EVAL_DIR", "/work/shared/eval")
CORPUS = os.environ.get("DEJA_CORPUS", "/work/shared/corpus/public-postmortems.jsonl")
DEV_QUERIES = os.path.join(EVAL_DIR, "dev-queries.jsonl")


def load_reference():
    spec = importlib.util.spec_from_file_location(
        "score_bm25", os.path.join(EVAL_DIR, "score_bm25.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MetricsMatchReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ref = load_reference()
        cls.bm25 = cls.ref.BM25(CORPUS)
        cls.queries = corpus.load_queries(DEV_QUERIES)
        cls.dates = metrics.corpus_dates(corpus.load_corpus(CORPUS))
        cls.results = {}
        for q in cls.queries:
            text = cls.ref.query_text(q, ["query", "log_lines", "services"])
            scores, _ = cls.bm25.search(text, q.get("probe"), q.get("as_of"))
            cls.results[q["qid"]] = ([d for _, d in scores], None)

    def test_per_query_equals_reference(self):
        report = metrics.evaluate(self.queries, self.results, self.dates)
        compared = 0
        for row in report["per_query"]:
            if "recall_at_5" not in row:
                continue
            q = next(q for q in self.queries if q["qid"] == row["qid"])
            rel = {d: g for d, g in q["relevant"].items()
                   if self.bm25.eligible(d, q.get("probe"), q.get("as_of"))}
            want = self.ref.metrics(self.results[q["qid"]][0], rel, row["type"])
            self.assertAlmostEqual(row["recall_at_5"], want["recall@5cap"], 12)
            self.assertAlmostEqual(row["success_at_5"], want["success@5"], 12)
            self.assertAlmostEqual(row["mrr_at_10"], want["mrr@10"], 12)
            self.assertAlmostEqual(row["ndcg_at_10"], want["ndcg@10"], 12)
            compared += 1
        self.assertEqual(compared, 11)

    def test_overall_equals_published_baseline(self):
        overall = metrics.evaluate(self.queries, self.results, self.dates)["overall"]
        self.assertEqual(round(overall["recall_at_5"], 2), 0.45)
        self.assertEqual(round(overall["success_at_5"], 2), 0.91)
        self.assertEqual(round(overall["mrr_at_10"], 2), 0.78)
        self.assertEqual(round(overall["ndcg_at_10"], 2), 0.58)
        self.assertIsNone(overall["nomatch_new"])  # no verdicts given

    def test_probe_is_dropped_from_ranking(self):
        q = {"qid": "x", "type": "recurrence", "probe": "a", "as_of": None,
             "relevant": {"b": 2}}
        dates = {"a": None, "b": None, "c": None}
        report = metrics.evaluate([q], {"x": (["a", "b", "c"], "SEEN_BEFORE")}, dates)
        self.assertEqual(report["overall"]["mrr_at_10"], 1.0)
        self.assertEqual(report["overall"]["matched_not_new"], 1.0)

    def test_relevant_dated_on_or_after_as_of_is_not_judged(self):
        q = {"qid": "x", "type": "recurrence", "probe": None, "as_of": "2020-01-01",
             "relevant": {"old": 1, "same-day": 2, "later": 2, "undated": 1}}
        dates = {"old": "2019-12-31", "same-day": "2020-01-01", "later": "2021-05-05",
                 "undated": None}
        report = metrics.evaluate([q], {"x": (["old", "undated"], "NEW")}, dates)
        row = report["per_query"][0]
        self.assertEqual(row["relevant"], 2)
        self.assertEqual(row["recall_at_5"], 1.0)
        self.assertEqual(row["matched_not_new"], 0.0)
        self.assertEqual(len(report["warnings"]), 2)

    def test_mechanism_mrr_needs_grade_two(self):
        q = {"qid": "m", "type": "mechanism", "relevant": {"a": 1, "b": 2}}
        row = metrics.evaluate([q], {"m": (["a", "x", "b"], None)},
                               {"a": None, "b": None, "x": None})["per_query"][0]
        self.assertAlmostEqual(row["mrr_at_10"], 1 / 3)
        self.assertEqual(row["recall_at_5"], 1.0)

    def test_nomatch_verdicts(self):
        qs = [{"qid": "n1", "type": "nomatch"}, {"qid": "n2", "type": "nomatch"}]
        report = metrics.evaluate(qs, {"n1": ([], "NEW"), "n2": (["a"], "POSSIBLY_RELATED")},
                                  {"a": None})
        self.assertEqual(report["overall"]["nomatch_new"], 0.5)
        self.assertIsNone(report["overall"]["recall_at_5"])


class CorpusMapping(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        stubs.generate(cls.tmp.name)
        cls.pb = stubs.load("postmortem_pb2")
        cls.search_pb = stubs.load("search_service_pb2")
        from google.protobuf import json_format
        cls.json_format = json_format
        cls.records = corpus.load_corpus(CORPUS)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_valid(self, pm):
        """The rules of core/validation.cc that the mapping must meet."""
        message = self.json_format.ParseDict(pm, self.pb.Postmortem())
        for name in ["team"] + list(pm["services"]) + list(pm["tags"]):
            self.assertTrue(name.strip(), pm)
            self.assertFalse(any(ord(c) < 0x20 or c == "\x7f" for c in name), name)
            self.assertLessEqual(len(name.encode()), corpus.MAX_SHORT_TEXT)
        self.assertTrue(pm["title"].strip())
        self.assertTrue(pm["summary"].strip())
        self.assertLessEqual(len(pm["title"].encode()), corpus.MAX_TITLE)
        self.assertLessEqual(len(pm["summary"].encode()), corpus.MAX_LONG_TEXT)
        self.assertLessEqual(len(pm.get("narrative", "").encode()), corpus.MAX_LONG_TEXT)
        self.assertLessEqual(len(pm["tags"]), corpus.MAX_LIST_ITEMS)
        self.assertEqual(len(pm["tags"]), len(set(pm["tags"])))
        self.assertGreaterEqual(message.started_at.seconds, -2208988800)
        if message.HasField("resolved_at"):
            self.assertGreater(message.resolved_at.ToSeconds(), message.started_at.ToSeconds())
        return message

    def test_every_record_maps_to_a_valid_postmortem(self):
        ids = set()
        for rec in self.records:
            pm = corpus.postmortem_from_record(rec)
            self.assert_valid(pm)
            self.assertEqual(pm["external_id"], rec["id"])
            ids.add(pm["external_id"])
        self.assertEqual(len(ids), len(self.records))

    def test_started_at_keeps_reference_eligibility(self):
        # started_before = as_of must exclude exactly what the reference excludes.
        for as_of in ["2015-01-01", "2019-08-29", "2022-11-18", "2025-10-20"]:
            cut = datetime.datetime.fromisoformat(as_of + "T00:00:00+00:00")
            for rec in self.records:
                pm = corpus.postmortem_from_record(rec)
                started = datetime.datetime.fromisoformat(
                    pm["started_at"].replace("Z", "+00:00"))
                self.assertEqual(started < cut,
                                 metrics.eligible(rec.get("date"), rec["id"], None, as_of),
                                 (as_of, rec["id"], rec.get("date"), pm["started_at"]))

    def test_defaults_are_marked(self):
        pm = corpus.postmortem_from_record({
            "id": "x:1", "title": "  ", "summary": None, "text": "Body \u00e9" * 40000,
            "company": None, "product": None, "categories": ["Cloud", "cloud"],
            "keywords": ["Line\nBreak", " ", "é" * 150], "date": None,
            "start_time": None, "end_time": "2020-01-01T00:00:00Z", "url": "ftp://x"})
        self.assert_valid(pm)
        self.assertEqual(pm["team"], "unknown-team")
        self.assertEqual(pm["services"], ["unknown-service"])
        self.assertEqual(pm["severity"], "SEV3")
        self.assertEqual(pm["started_at"], "1970-01-01T00:00:00Z")
        self.assertIn("undated", pm["tags"])
        self.assertIn("severity-unrecorded", pm["tags"])
        self.assertIn("cloud", pm["tags"])
        self.assertIn("line break", pm["tags"])
        self.assertEqual(len(pm["tags"][2].encode()), 200)  # cut between characters
        self.assertNotIn("source_url", pm)
        self.assertNotIn("resolved_at", pm)
        self.assertTrue(pm["summary"].startswith("Body"))
        self.assertLessEqual(len(pm["summary"].encode()), corpus.DERIVED_SUMMARY_BYTES)

    def test_company_without_product_and_times(self):
        pm = corpus.postmortem_from_record({
            "id": "x:2", "title": "T", "summary": "S", "text": "", "company": "Acme",
            "product": None, "date": "2019-08-29", "start_time": "2019-08-29T10:00:00+05:30",
            "end_time": "2019-08-29T09:00:00+05:30", "url": "https://example.org/pm"})
        self.assert_valid(pm)
        self.assertEqual((pm["team"], pm["services"]), ("Acme", ["Acme"]))
        self.assertEqual(pm["started_at"], "2019-08-29T04:30:00Z")
        self.assertNotIn("resolved_at", pm)  # ends before it starts
        self.assertEqual(pm["source_url"], "https://example.org/pm")
        self.assertNotIn("undated", pm["tags"])

    def test_find_similar_request(self):
        for q in corpus.load_queries(DEV_QUERIES):
            request = corpus.find_similar_request_from_query(q)
            message = self.json_format.ParseDict(request, self.search_pb.FindSimilarRequest())
            self.assertEqual(message.symptoms, q["query"])
            self.assertEqual(list(message.log_lines), q.get("log_lines") or [])
            self.assertEqual(message.HasField("started_before"), bool(q.get("as_of")))
            if q.get("as_of"):
                self.assertEqual(message.started_before.ToJsonString(), q["as_of"] + "T00:00:00Z")
            self.assertEqual(message.limit, 20)


if __name__ == "__main__":
    unittest.main()
