"""End-to-end: postmortems as documents against the real dejad.

- `deja import` of the DFDS Markdown folder (real write-ups no one here
  wrote; $DEJA_DFDS_DIR, default ../shared/corpus/dfds-markdown beside the
  repository), twice: the second run imports nothing; then search finds them.
- `deja new` -> edit -> `deja import`; `deja export` in its three formats.
- ImportPostmortems through the Python grpcio client, including raw bytes.
- The blameless-language check: warnings on submit, and a dejad started with
  --require-blameless refusing blaming text with FAILED_PRECONDITION.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import uuid

import grpc

import dejad_process

dejad_process.import_generated()

from google.protobuf import timestamp_pb2  # noqa: E402
from deja.v1 import postmortem_pb2 as pm  # noqa: E402
from deja.v1 import postmortem_service_pb2 as svc  # noqa: E402
from deja.v1 import postmortem_service_pb2_grpc as svc_grpc  # noqa: E402
from deja.v1 import search_service_pb2 as search  # noqa: E402
from deja.v1 import search_service_pb2_grpc as search_grpc  # noqa: E402

RPC_TIMEOUT_S = 30
CLI_TIMEOUT_S = 300
SERVER = None
WORK = None
DEJA = None
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DFDS = os.environ.get("DEJA_DFDS_DIR", os.path.join(
    os.path.dirname(REPO), "shared", "corpus", "dfds-markdown"))
IMPORT_PATH = "/deja.v1.PostmortemService/ImportPostmortems"


def setUpModule():
    global SERVER, WORK, DEJA
    DEJA = dejad_process.env_path("DEJA")
    WORK = tempfile.mkdtemp(prefix="deja-e2e-import-")
    SERVER = dejad_process.start_module_server()


def tearDownModule():
    try:
        dejad_process.stop_module_server(SERVER)
    finally:
        if WORK:
            shutil.rmtree(WORK, ignore_errors=True)


def deja(*args, server=None, stdin=None):
    argv = [DEJA, "--server", server or SERVER.address] + list(args)
    proc = subprocess.run(argv, input=stdin, capture_output=True,
                          timeout=CLI_TIMEOUT_S)
    return Run(argv, proc)


class Run:
    def __init__(self, argv, proc):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def __str__(self):
        return "$ %s\nexit %s\n--- stdout ---\n%s--- stderr ---\n%s" % (
            " ".join(self.argv), self.code, self.out, self.err)


def channel(address=None):
    ch = grpc.insecure_channel(address or SERVER.address)
    grpc.channel_ready_future(ch).result(timeout=RPC_TIMEOUT_S)
    return ch


def record(n, team, **overrides):
    p = pm.Postmortem(
        team=team, title="Disk filled up on db-%d" % n,
        summary="Write-ahead logs filled the data disk of db-%d." % n,
        severity=pm.SEV3, started_at=timestamp_pb2.Timestamp(seconds=1709287200 + n),
        services=["postgres"])
    for key, value in overrides.items():
        if key.startswith("clear_"):
            p.ClearField(key[len("clear_"):])
        else:
            setattr(p, key, value)
    return svc.ImportRecord(source="stream/%d" % n, request_id="e2e-%s-%d" % (team, n),
                            postmortem=p)


def import_outcomes(result):
    """{source: outcome} from `deja import --json` output (one result per line)."""
    outcomes = {}
    for line in result.out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            item = json.loads(line)
            if "source" in item:
                outcomes[item["source"]] = item.get("outcome", "")
    return outcomes


def summary_line(result):
    """The last line of `deja import --json`: the counts."""
    return json.loads(result.out.strip().splitlines()[-1])


class CliImportTest(unittest.TestCase):
    """What a new user does with a folder of existing write-ups."""

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(DFDS):
            raise AssertionError("DFDS folder not found at %s (set DEJA_DFDS_DIR)" % DFDS)
        # A copy, so the test also shows request ids do not depend on where
        # the folder sits.
        cls.folder = os.path.join(WORK, "write-ups")
        shutil.copytree(DFDS, cls.folder)
        cls.files = sorted(n for n in os.listdir(cls.folder) if n.endswith(".md"))

    def test_1_import_twice_then_search_finds_them(self):
        first = deja("import", self.folder, "--json")
        self.assertIn(first.code, (0, 1), first)
        counts = summary_line(first)
        self.assertEqual(counts["imported"] + counts["rejected"], len(self.files), first)
        self.assertTrue(counts["searchable"], first)
        # The one rejection: a file whose every date is a typo ("20202-01-16").
        rejected = {src: o for src, o in import_outcomes(first).items() if o == "REJECTED"}
        self.assertEqual([os.path.basename(s)[:10] for s in rejected], ["PM2020-003"], first)
        self.assertGreaterEqual(counts["imported"], 37)

        # Again from another place and working directory: nothing new.
        moved = os.path.join(WORK, "moved", "write-ups")
        shutil.copytree(self.folder, moved)
        second = deja("import", moved, "--json")
        again = summary_line(second)
        self.assertEqual((again["imported"], again["unchanged"]),
                         (0, counts["imported"]), second)

        table = deja("import", self.folder)
        self.assertRegex(table.out, r"(?m)^imported +0$", table)
        self.assertRegex(table.out, r"(?m)^unchanged +%d$" % counts["imported"], table)
        self.assertIn("PM2020-003", table.out)
        self.assertIn("postmortem.started_at: required", table.out)

        found = deja("search", "ADFS token signing certificate expired", "--json")
        self.assertEqual(found.code, 0, found)
        self.assertIn("ADFS", found.out)
        seen = deja("seen", "inotify watches exhausted on kubernetes nodes", "--json")
        self.assertEqual(seen.code, 0, seen)
        self.assertIn("Inotify", seen.out)

    def test_2_dry_run_validates_and_stores_nothing(self):
        folder = os.path.join(WORK, "dry")
        os.makedirs(folder)
        shutil.copy(os.path.join(self.folder, self.files[0]), folder)
        team = "e2e-dry-" + uuid.uuid4().hex[:8]
        result = deja("import", folder, "--dry-run", "--team", team)
        self.assertEqual(result.code, 0, result)
        self.assertRegex(result.out, r"(?m)^valid +1$", result)
        listed = deja("list", "--team", team, "--json")
        self.assertNotIn(team, listed.out, listed)

    def test_3_new_template_filled_in_imports_and_exports(self):
        path = os.path.join(WORK, "new.md")
        made = deja("new", path)
        self.assertEqual(made.code, 0, made)
        with open(path) as f:
            text = f.read()
        today = __import__("datetime").datetime.utcnow().strftime("%Y-%m-%d")
        self.assertIn("started_at: %sT" % today, text)
        self.assertEqual(deja("new", path).code, 1, "new must not overwrite")
        team = "e2e-new-" + uuid.uuid4().hex[:8]
        text = text.replace("team: the team that owns the write-up", "team: " + team)
        text = re.sub(r"(?m)^title: .*$", "title: Queue consumers stalled after a broker upgrade", text)
        with open(path, "w") as f:
            f.write(text)
        imported = deja("import", path, "--json")
        self.assertEqual(imported.code, 0, imported)
        pm_id = json.loads(imported.out.splitlines()[0])["postmortemId"]

        markdown = deja("export", pm_id, "--format", "markdown")
        self.assertEqual(markdown.code, 0, markdown)
        self.assertIn("team: " + team, markdown.out)
        self.assertIn("## 5 Whys", markdown.out)
        as_json = deja("export", pm_id, "--format", "json")
        self.assertEqual(json.loads(as_json.out)["id"], pm_id)
        summary = deja("export", pm_id, "--format", "summary")
        self.assertIn("Queue consumers stalled after a broker upgrade", summary.out)
        self.assertIn("owner.name", summary.out)
        self.assertNotIn("|", summary.out)
        # The exported document reads back as the same postmortem.
        exported = os.path.join(WORK, "exported.md")
        with open(exported, "w") as f:
            f.write(markdown.out)
        check = deja("import", exported, "--dry-run")
        self.assertEqual(check.code, 0, check)
        self.assertEqual(deja("export", pm_id, "--format", "yaml").code, 2)


class PythonClientImportTest(unittest.TestCase):
    """ImportPostmortems from a client no one here wrote."""

    def setUp(self):
        self.channel = channel()
        self.stub = svc_grpc.PostmortemServiceStub(self.channel)
        self.team = "e2e-import-" + uuid.uuid4().hex[:8]

    def tearDown(self):
        self.channel.close()

    def test_streamed_batches_store_each_record_and_reject_the_bad_one(self):
        batches = [svc.ImportPostmortemsRequest(records=[record(1, self.team), record(2, self.team)]),
                   svc.ImportPostmortemsRequest(records=[record(3, self.team, clear_severity=True)])]
        response = self.stub.ImportPostmortems(iter(batches), timeout=RPC_TIMEOUT_S)
        self.assertEqual((response.imported, response.unchanged, response.rejected), (2, 0, 1))
        self.assertEqual([r.source for r in response.results], ["stream/1", "stream/2", "stream/3"])
        self.assertEqual(response.results[2].outcome, svc.ImportResult.REJECTED)
        self.assertEqual(response.results[2].reason,
                         "INVALID_ARGUMENT: postmortem.severity: required (SEV1 to SEV5)")
        stored = self.stub.GetPostmortem(svc.GetPostmortemRequest(id=response.results[0].postmortem_id),
                                         timeout=RPC_TIMEOUT_S)
        self.assertEqual(stored.title, "Disk filled up on db-1")

        again = self.stub.ImportPostmortems(iter(batches), timeout=RPC_TIMEOUT_S)
        self.assertEqual((again.imported, again.unchanged, again.rejected), (0, 2, 1))
        self.assertEqual(again.results[0].postmortem_id, response.results[0].postmortem_id)

    def test_dry_run_stores_nothing(self):
        request = svc.ImportPostmortemsRequest(records=[record(1, self.team)], dry_run=True)
        response = self.stub.ImportPostmortems(iter([request]), timeout=RPC_TIMEOUT_S)
        self.assertEqual((response.valid, response.imported), (1, 0))
        listed = self.stub.ListPostmortems(svc.ListPostmortemsRequest(team=self.team),
                                           timeout=RPC_TIMEOUT_S)
        self.assertEqual(len(listed.postmortems), 0)

    def test_invalid_utf8_in_a_streamed_message_is_invalid_argument_naming_the_field(self):
        good = svc.ImportPostmortemsRequest(records=[record(1, self.team)]).SerializeToString()
        bad = svc.ImportPostmortemsRequest(
            records=[record(2, self.team, title="Disk @@@@ full")]).SerializeToString()
        bad = bad.replace(b"@@@@", b"\xff\xfe\xc3\x28")
        call = self.channel.stream_unary(IMPORT_PATH, request_serializer=None,
                                         response_deserializer=None)
        with self.assertRaises(grpc.RpcError) as caught:
            call(iter([good, bad]), timeout=RPC_TIMEOUT_S)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(),
                         "records[0].postmortem.title: not valid UTF-8")


class BlamelessTest(unittest.TestCase):
    BLAMING = "The outage was human error: the on-call engineer was careless."

    def test_submit_answers_warnings_and_stores_it(self):
        stub = svc_grpc.PostmortemServiceStub(channel())
        team = "e2e-blame-" + uuid.uuid4().hex[:8]
        p = record(1, team, summary=self.BLAMING).postmortem
        response = stub.SubmitPostmortem(svc.SubmitPostmortemRequest(postmortem=p),
                                         timeout=RPC_TIMEOUT_S)
        self.assertTrue(response.postmortem.id)
        rules = [w.rule for w in response.warnings]
        self.assertIn("human-error", rules)
        self.assertTrue(all(w.field == "summary" and w.suggestion for w in response.warnings))

    def test_cli_submit_prints_each_warning_on_stderr(self):
        path = os.path.join(WORK, "blaming.json")
        with open(path, "w") as f:
            json.dump({"team": "e2e-blame-cli", "title": "Queue stalled",
                       "summary": self.BLAMING, "severity": "SEV3",
                       "startedAt": "2024-02-10T08:00:00Z", "services": ["queue"]}, f)
        result = deja("submit", path)
        self.assertEqual(result.code, 0, result)
        self.assertRegex(result.err, r'warning: .*blaming\.json: summary: "human error" ')
        self.assertIn('"careless"', result.err)

    def test_require_blameless_server_refuses_with_failed_precondition(self):
        strict = dejad_process.DejadProcess(extra_args=["--require-blameless"])
        try:
            strict.start()
            ch = channel(strict.address)
            stub = svc_grpc.PostmortemServiceStub(ch)
            p = record(1, "e2e-strict", summary=self.BLAMING).postmortem
            with self.assertRaises(grpc.RpcError) as caught:
                stub.SubmitPostmortem(svc.SubmitPostmortemRequest(postmortem=p),
                                      timeout=RPC_TIMEOUT_S)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn('summary: "human error" blames people', caught.exception.details())
            listed = stub.ListPostmortems(svc.ListPostmortemsRequest(team="e2e-strict"),
                                          timeout=RPC_TIMEOUT_S)
            self.assertEqual(len(listed.postmortems), 0, "nothing may be stored")
            ch.close()
            strict.stop()
        finally:
            strict.cleanup()


if __name__ == "__main__":
    unittest.main()
