"""End-to-end: the `deja` CLI (binary from $DEJA) against the real dejad.

The sample cases submit every file in $DEJA_SAMPLES; they are skipped, with
the reason, when the folder has no *.json. The other cases build their JSON
in code.
"""

import datetime
import glob
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import uuid

import dejad_process

CLI_TIMEOUT_S = 60
SERVER = None
WORK = None
DEJA = None


def setUpModule():
    global SERVER, WORK, DEJA
    DEJA = dejad_process.env_path("DEJA")
    WORK = tempfile.mkdtemp(prefix="deja-e2e-cli-")
    SERVER = dejad_process.start_module_server()


def tearDownModule():
    try:
        dejad_process.stop_module_server(SERVER)
    finally:
        if WORK:
            import shutil
            shutil.rmtree(WORK, ignore_errors=True)


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def __str__(self):
        return "$ %s\nexit %s\n--- stdout ---\n%s--- stderr ---\n%s" % (
            " ".join(self.argv), self.code, self.out, self.err)


def deja(*args, server=None):
    """Runs `deja --server ADDR ARGS...`."""
    argv = [DEJA, "--server", server or SERVER.address] + list(args)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=CLI_TIMEOUT_S)
    return Result(argv, proc)


def write_json(name, obj_or_text):
    path = os.path.join(WORK, name)
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(obj_or_text, str):
            f.write(obj_or_text)
        else:
            json.dump(obj_or_text, f, indent=2)
    return path


def minimal_json(team, title="Queue consumer lag after broker failover",
                 service="e2e-orders-consumer"):
    return {
        "team": team,
        "title": title,
        "summary": "A broker failover left consumers on a stale leader; "
                   "lag grew to 2 hours before a restart.",
        "severity": "SEV3",
        "startedAt": "2024-02-10T08:00:00Z",
        "detectedAt": "2024-02-10T08:20:00Z",
        "services": [service],
        "tags": ["kafka"],
        "actionItems": [{
            "description": "Alert on consumer lag > 5 minutes",
            "owner": "orders-oncall",
            "dueDate": "2024-03-01",
            "status": "OPEN",
            "kind": "DETECT",
        }],
    }


def listed(result):
    """The postmortems in `deja list --json` output: a JSON array, an object
    with "postmortems", or one JSON object per line."""
    text = result.out.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        return data.get("postmortems", [])
    return data


def rfc3339(text):
    """An RFC 3339 time as a comparable value (None when absent)."""
    if not text:
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$",
                 text)
    if not m:
        raise AssertionError("not an RFC 3339 time: %r" % text)
    frac = (m.group(2) or ".0")[1:].ljust(9, "0")[:9]
    base = datetime.datetime.fromisoformat(
        m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return (int(base.timestamp()), int(frac))


def table_rows(text):
    """Data lines of a table (all lines but the header)."""
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[1:]


class CliTest(unittest.TestCase):
    maxDiff = None

    def assertOk(self, r):
        self.assertEqual(r.code, 0, str(r))
        return r

    def assertCliError(self, r, code, prefix):
        """Exit `code` and one stderr line starting with `prefix`."""
        self.assertEqual(r.code, code, str(r))
        lines = [l for l in r.err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "want one stderr line\n%s" % r)
        self.assertTrue(lines[0].startswith(prefix),
                        "stderr should start with %r\n%s" % (prefix, r))
        return lines[0]

    def all_postmortems(self, *filters):
        r = self.assertOk(deja("list", "--all", "--json", *filters))
        return listed(r)

    def submit_file(self, path):
        return self.assertOk(deja("submit", path))


def sample_files():
    return sorted(glob.glob(os.path.join(os.environ.get("DEJA_SAMPLES", ""),
                                         "*.json")))


def json_lines(result):
    """The JSON objects of a --json output, one per line."""
    return [json.loads(l) for l in result.out.splitlines() if l.strip()]


class SearchCliTest(CliTest):
    """deja submit --wait, search, seen and admin over the samples."""

    @classmethod
    def setUpClass(cls):
        cls.files = sample_files()
        cls.ids = {}  # "08" -> id
        if not cls.files:
            return
        # Replays the samples another class may have submitted already.
        r = deja("submit", "--wait", "--json", *cls.files)
        if r.code != 0:
            raise AssertionError(str(r))
        for path, answer in zip(cls.files, json_lines(r)):
            cls.ids[os.path.basename(path)[:2]] = answer["postmortem"]["id"]

    def setUp(self):
        if not self.files:
            self.skipTest("no sample postmortems in %s (DEJA_SAMPLES)"
                          % os.environ.get("DEJA_SAMPLES", "<unset>"))
        deadline = time.monotonic() + 60
        while True:
            status = self.index_status()
            if status["pending"] == 0 and status["link_pending"] == 0:
                break
            self.assertLess(time.monotonic(), deadline, "index never caught up")
            time.sleep(0.1)

    def index_status(self):
        status = json.loads(self.assertOk(
            deja("admin", "index-status", "--json")).out)
        # proto3 JSON writes int64 as a string and may leave zeros out.
        status["pending"] = int(status.get("pending", 0))
        status["link_pending"] = int(status.get("linkPending", 0))
        status["documents"] = int(status.get("documents", 0))
        return status

    def test_submit_wait_is_searchable_at_once(self):
        team = "cli-" + uuid.uuid4().hex[:10]
        word = "glimmerquake" + uuid.uuid4().hex[:6]
        doc = minimal_json(team, title="Sorting belts halted by %s firmware"
                           % word, service="sorter-" + team)
        r = self.assertOk(deja("submit", "--wait", write_json(
            "wait-%s.json" % team, doc)))
        rows = table_rows(r.out)
        self.assertIn("SEARCHABLE", r.out.splitlines()[0], str(r))
        self.assertEqual(len(rows), 1, str(r))
        self.assertIn(" yes ", rows[0], str(r))
        pid = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", rows[0]).group(0)
        found = json.loads(self.assertOk(deja("search", word, "--json")).out)
        self.assertEqual([h["incident"]["id"] for h in found.get("hits", [])],
                         [pid])

    def test_search_table_and_json(self):
        r = self.assertOk(deja("search", "expired", "certificate",
                               "--service", "edge-proxy",
                               "--service", "auth-service"))
        self.assertRegex(r.out.splitlines()[0], r"^\d+ match")
        for n in ("10", "21"):
            self.assertIn(self.ids[n], r.out, str(r))
        self.assertRegex(r.out, r"\*certificate\*|\*expired\*",
                         "snippets mark the matched words\n%s" % r)
        self.assertRegex(r.out, r"(?m)^service: ", "facets shown\n%s" % r)

        found = json.loads(self.assertOk(deja(
            "search", "title:certificate", "--json")).out)
        ids = {h["incident"]["id"] for h in found["hits"]}
        self.assertTrue({self.ids["10"], self.ids["21"]} <= ids, found)
        self.assertTrue(all("snippet" in h for h in found["hits"]), found)
        self.assertTrue(any(f["field"] == "service" for f in found["facets"]))

    def test_search_newest_with_filters(self):
        found = json.loads(self.assertOk(deja(
            "search", "--service", "route-planner", "--sort", "newest",
            "--before", "2026-01-01", "--json")).out)
        self.assertEqual([h["incident"]["id"] for h in found["hits"]],
                         [self.ids[n] for n in ("25", "15", "06", "02")])

    def test_bad_query_is_invalid_argument(self):
        self.assertCliError(deja("search", "foo AND"), 1,
                            "deja: INVALID_ARGUMENT")
        self.assertCliError(deja("search", "(((("), 1,
                            "deja: INVALID_ARGUMENT")

    def test_seen_before_with_reasons_and_open_fixes(self):
        args = ["seen",
                "Partner calls to our public API fail: the TLS handshake is "
                "refused because the certificate has expired",
                "--log", "x509: certificate has expired or is not yet valid: "
                "current time 2025-12-30T21:00:03Z is after "
                "2025-12-30T20:59:59Z",
                "--service", "edge-proxy", "--before", "2026-01-01"]
        r = self.assertOk(deja(*args))
        self.assertTrue(r.out.startswith("SEEN BEFORE"), str(r))
        self.assertIn("why it matches", r.out, str(r))
        self.assertIn("same error: ", r.out, str(r))
        self.assertIn("same services: ", r.out, str(r))
        self.assertIn("OPEN", r.out, "open action items flagged\n%s" % r)
        first = re.search(r"(?m)^   id (\S+)$", r.out).group(1)
        self.assertIn(first, (self.ids["10"], self.ids["21"]), str(r))

        answer = json.loads(self.assertOk(deja(*args, "--json")).out)
        self.assertEqual(answer["verdict"], "SEEN_BEFORE")
        top = answer["incidents"][0]
        self.assertIn(top["incident"]["id"], (self.ids["10"], self.ids["21"]))
        self.assertTrue(top["sharedSignatures"], top)
        self.assertIn("edge-proxy", top["sharedServices"])

    def test_seen_like_a_stored_postmortem(self):
        answer = json.loads(self.assertOk(deja(
            "seen", "--like", self.ids["08"], "--json")).out)
        ids = [i["incident"]["id"] for i in answer["incidents"]]
        self.assertNotIn(self.ids["08"], ids)
        self.assertIn(self.ids["19"], ids[:3], answer)

    def test_seen_log_file(self):
        path = write_json("oom-%s.log" % uuid.uuid4().hex[:6],
                          "Nov 04 05:02:11 ip-10-20-77-9 kernel: [5512.128] "
                          "Out of memory: Killed process 3311 (route-planner) "
                          "total-vm:9102332kB, anon-rss:6300112kB, "
                          "file-rss:0kB, shmem-rss:0kB, UID:10001 "
                          "pgtables:14000kB oom_score_adj:985\n")
        answer = json.loads(self.assertOk(deja(
            "seen", "planning pods keep dying", "--log-file", path,
            "--before", "2026-01-01", "--json")).out)
        self.assertEqual(answer["verdict"], "SEEN_BEFORE", answer)
        self.assertIn(answer["incidents"][0]["incident"]["id"],
                      (self.ids["06"], self.ids["15"], self.ids["25"]))

    def test_admin_index_status(self):
        r = self.assertOk(deja("admin", "index-status"))
        for label in ("documents:", "pending:", "index:", "last error:"):
            self.assertIn(label, r.out, str(r))
        status = self.index_status()
        self.assertGreaterEqual(status["documents"], len(self.files))
        self.assertTrue(status.get("indexerRunning"), status)
        self.assertCliError(deja("admin", "frobnicate"), 2, "deja: ")


class SubmitGetListTest(CliTest):
    def test_submit_get_list_own_file(self):
        team = "cli-" + uuid.uuid4().hex[:10]
        path = write_json("own-%s.json" % team, minimal_json(team))
        first = self.submit_file(path)
        pms = self.all_postmortems("--team", team)
        self.assertEqual(len(pms), 1, pms)
        pid = pms[0]["id"]
        self.assertIn(pid, first.out, "submit prints the new id\n%s" % first)

        again = self.submit_file(path)
        self.assertIn(pid, again.out, str(again))
        self.assertRegex((again.out + again.err).lower(), r"replay|already",
                         "a replayed submit says so\n%s" % again)
        self.assertEqual(len(self.all_postmortems("--team", team)), 1,
                         "no duplicate")

        got = self.assertOk(deja("get", pid))
        self.assertIn("Queue consumer lag after broker failover", got.out)
        self.assertIn("orders-oncall", got.out, "action item owner shown")

        as_json = self.assertOk(deja("get", pid, "--json"))
        doc = json.loads(as_json.out)
        self.assertEqual(doc["id"], pid)
        self.assertEqual(doc["title"], "Queue consumer lag after broker failover")
        self.assertEqual(doc["severity"], "SEV3")
        self.assertEqual(doc["actionItems"][0]["owner"], "orders-oncall")

        table = self.assertOk(deja("list", "--team", team))
        rows = table_rows(table.out)
        self.assertEqual(len(rows), 1, str(table))
        self.assertIn(pid, rows[0])

    def test_submit_with_request_id(self):
        team = "cli-" + uuid.uuid4().hex[:10]
        path = write_json("rid-%s.json" % team, minimal_json(team))
        rid = "e2e-" + uuid.uuid4().hex
        self.submit_file_rid(path, rid)
        again = self.assertOk(deja("submit", path, "--request-id", rid))
        self.assertRegex((again.out + again.err).lower(), r"replay|already",
                         str(again))
        self.assertEqual(len(self.all_postmortems("--team", team)), 1)
        other = minimal_json(team, title="Different content, same request id")
        r = deja("submit", write_json("rid2-%s.json" % team, other),
                 "--request-id", rid)
        self.assertCliError(r, 1, "deja: FAILED_PRECONDITION")
        self.assertEqual(len(self.all_postmortems("--team", team)), 1)

    def submit_file_rid(self, path, rid):
        return self.assertOk(deja("submit", path, "--request-id", rid))

    def test_update_action_and_delete(self):
        team = "cli-" + uuid.uuid4().hex[:10]
        self.submit_file(write_json("upd-%s.json" % team, minimal_json(team)))
        pm = self.all_postmortems("--team", team)[0]
        pid = pm["id"]
        doc = json.loads(self.assertOk(deja("get", pid, "--json")).out)
        item = doc["actionItems"][0]["id"]
        self.assertOk(deja("update-action", pid, item, "--status", "done"))
        doc = json.loads(self.assertOk(deja("get", pid, "--json")).out)
        self.assertEqual(doc["actionItems"][0]["status"], "DONE")
        self.assertTrue(doc["actionItems"][0].get("history"),
                        "the change is recorded")

        self.assertOk(deja("delete", pid))
        self.assertCliError(deja("get", pid), 1, "deja: NOT_FOUND")
        self.assertEqual(self.all_postmortems("--team", team), [])


class SamplesTest(CliTest):
    """Submits every sample once for the whole class."""

    @classmethod
    def setUpClass(cls):
        folder = os.environ.get("DEJA_SAMPLES", "")
        cls.files = sorted(glob.glob(os.path.join(folder, "*.json")))
        cls.submitted = {}  # file -> Result
        if not cls.files:
            return
        for path in cls.files:
            cls.submitted[path] = deja("submit", path)

    def setUp(self):
        if not self.files:
            self.skipTest("no sample postmortems in %s (DEJA_SAMPLES)"
                          % os.environ.get("DEJA_SAMPLES", "<unset>"))

    def sample(self, path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def ids_by_file(self):
        """file -> id, matching titles and teams in `deja list --all --json`."""
        pms = self.all_postmortems()
        out = {}
        for path in self.files:
            s = self.sample(path)
            match = [p["id"] for p in pms
                     if p.get("title") == s.get("title")
                     and p.get("team") == s.get("team")]
            if len(match) > 1:
                match = [p["id"] for p in pms if p["id"] in match and
                         rfc3339(p.get("startedAt")) ==
                         rfc3339(s.get("startedAt"))]
            self.assertEqual(len(match), 1,
                             "%s: want one stored postmortem, got %r"
                             % (os.path.basename(path), match))
            out[path] = match[0]
        return out

    def test_every_sample_submits(self):
        for path, r in self.submitted.items():
            with self.subTest(sample=os.path.basename(path)):
                self.assertEqual(r.code, 0, str(r))
        ids = self.ids_by_file()
        for path, pid in ids.items():
            with self.subTest(sample=os.path.basename(path)):
                self.assertIn(pid, self.submitted[path].out,
                              "submit prints the id\n%s" % self.submitted[path])
        table = self.assertOk(deja("list", "--all"))
        rows = table_rows(table.out)
        for path, pid in ids.items():
            with self.subTest(sample=os.path.basename(path)):
                self.assertEqual(len([r for r in rows if pid in r]), 1,
                                 "one table row for %s\n%s" % (pid, table))

    def test_resubmit_is_replayed_not_duplicated(self):
        before = len(self.all_postmortems())
        ids = self.ids_by_file()
        for path in self.files[:3]:
            with self.subTest(sample=os.path.basename(path)):
                r = self.submit_file(path)
                self.assertRegex((r.out + r.err).lower(), r"replay|already",
                                 str(r))
                self.assertIn(ids[path], r.out, str(r))
        self.assertEqual(len(self.all_postmortems()), before)

    def test_get_shows_title_and_json(self):
        ids = self.ids_by_file()
        path = self.files[0]
        s = self.sample(path)
        r = self.assertOk(deja("get", ids[path]))
        self.assertIn(s["title"], r.out)
        doc = json.loads(self.assertOk(deja("get", ids[path], "--json")).out)
        self.assertEqual(doc["id"], ids[path])
        self.assertEqual(doc["title"], s["title"])
        self.assertEqual(doc["services"], s["services"])

    def test_list_by_service(self):
        ids = self.ids_by_file()
        service = self.sample(self.files[0])["services"][0]
        want = {ids[p] for p in self.files
                if service in self.sample(p).get("services", [])}
        table = self.assertOk(deja("list", "--service", service, "--all"))
        rows = table_rows(table.out)
        shown = {pid for pid in ids.values() for r in rows if pid in r}
        self.assertEqual(shown, want, str(table))
        self.assertEqual(len(rows), len(want), str(table))

        js = listed(self.assertOk(deja("list", "--service", service, "--all",
                                       "--json")))
        self.assertEqual({p["id"] for p in js}, want)
        for p in js:
            self.assertIn(service, p["services"])

    def test_list_json(self):
        pms = listed(self.assertOk(deja("list", "--json", "--all")))
        self.assertGreaterEqual(len(pms), len(self.files))
        for p in pms:
            self.assertTrue(p.get("id"))
            self.assertTrue(p.get("title"))
        starts = [rfc3339(p["startedAt"]) for p in pms]
        self.assertEqual(starts, sorted(starts, reverse=True), "newest first")


class ErrorsTest(CliTest):
    def test_missing_title_is_invalid_argument(self):
        doc = minimal_json("cli-bad-" + uuid.uuid4().hex[:8])
        del doc["title"]
        r = deja("submit", write_json("no-title.json", doc))
        self.assertCliError(r, 1, "deja: INVALID_ARGUMENT: postmortem.title")

    def test_two_owners_is_invalid_argument(self):
        doc = minimal_json("cli-bad-" + uuid.uuid4().hex[:8])
        doc["actionItems"][0]["owner"] = "alice, bob"
        r = deja("submit", write_json("two-owners.json", doc))
        self.assertCliError(
            r, 1, "deja: INVALID_ARGUMENT: postmortem.action_items[0].owner")

    def test_malformed_json_names_the_file(self):
        path = write_json("broken-%s.json" % uuid.uuid4().hex[:6],
                          '{"team": "x", "title": ')
        r = deja("submit", path)
        line = self.assertCliError(r, 1, "deja: ")
        self.assertIn(os.path.basename(path), line)

    def test_missing_file(self):
        path = os.path.join(WORK, "does-not-exist.json")
        r = deja("submit", path)
        line = self.assertCliError(r, 1, "deja: ")
        self.assertIn("does-not-exist.json", line)

    def test_unknown_id_is_not_found(self):
        team = "cli-" + uuid.uuid4().hex[:10]
        self.submit_file(write_json("nf-%s.json" % team, minimal_json(team)))
        real = self.all_postmortems("--team", team)[0]["id"]
        fresh = uuid.uuid4().hex
        unknown = "".join(fresh[i % 32] if c in "0123456789abcdef" else c
                          for i, c in enumerate(real))
        if unknown == real:
            unknown = real[::-1]
        self.assertCliError(deja("get", unknown), 1, "deja: NOT_FOUND")

    def test_server_down_is_unavailable(self):
        r = deja("list", server="127.0.0.1:1")
        self.assertCliError(r, 1, "deja: UNAVAILABLE")

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], ["get"], ["list", "--limit", "many"],
                     ["list", "--severity", "SEV9"], ["submit"]):
            with self.subTest(args=args):
                r = deja(*args)
                self.assertEqual(r.code, 2, str(r))
                self.assertTrue(r.err.strip(), "usage error explains\n%s" % r)
        r = subprocess.run([DEJA], capture_output=True, timeout=CLI_TIMEOUT_S)
        self.assertEqual(r.returncode, 2, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
