"""End-to-end: dejad --http-listen, its HTTP/JSON statistics, /healthz and
/metrics, against the gRPC answers of the same dejad.

One dejad for the module, fresh data dir: setUpModule submits a known set of
postmortems, so the knowledge-base counts (SEV2 incidents, open and overdue
action items) are predictable. Nothing else writes to this dejad.
"""

import json
import re
import socket
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

import grpc
from prometheus_client.parser import text_string_to_metric_families

import dejad_process

dejad_process.import_generated()

from google.protobuf import json_format, timestamp_pb2  # noqa: E402
from deja.v1 import postmortem_pb2 as pm  # noqa: E402
from deja.v1 import postmortem_service_pb2 as svc  # noqa: E402
from deja.v1 import postmortem_service_pb2_grpc as svc_grpc  # noqa: E402
from deja.v1 import stats_service_pb2 as stats  # noqa: E402
from deja.v1 import stats_service_pb2_grpc as stats_grpc  # noqa: E402

RPC_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 30
_SERVING_HTTP = re.compile(r"serving HTTP on (127\.0\.0\.1:(\d+))")

SERVER = None
HTTP = None  # "http://127.0.0.1:PORT"
CHANNEL = None

# 2024-03-01T10:00:00Z
BASE_TIME = 1709287200
DAY = 86400
TEAM_A = "http-e2e-a-" + uuid.uuid4().hex[:8]
TEAM_B = "http-e2e-b-" + uuid.uuid4().hex[:8]

# What setUpModule submits, and so what the statistics must say.
SUBMITTED_SEV2 = 3
SUBMITTED_SEV3 = 1
SUBMITTED_OPEN_ITEMS = 2      # one of them overdue (due in 2024)
SUBMITTED_OVERDUE_ITEMS = 1


def ts(seconds):
    return timestamp_pb2.Timestamp(seconds=seconds)


def postmortem(team, severity, started, title, action_items=()):
    return pm.Postmortem(
        team=team, title=title,
        summary="The %s service answered 503 for twenty minutes." % title,
        severity=severity, started_at=ts(started),
        detected_at=ts(started + 300), resolved_at=ts(started + 3600),
        services=["checkout"], action_items=list(action_items))


def submitted_postmortems():
    overdue = pm.ActionItem(description="Add a pool-size alert",
                            owner="alice", due_date="2024-04-01",
                            status=pm.ActionItem.OPEN,
                            kind=pm.ActionItem.DETECT)
    open_later = pm.ActionItem(description="Load-test the pool settings",
                               owner="bob", due_date="2999-01-01",
                               status=pm.ActionItem.IN_PROGRESS,
                               kind=pm.ActionItem.PREVENT)
    done = pm.ActionItem(description="Roll back the config",
                         owner="carol", status=pm.ActionItem.DONE,
                         kind=pm.ActionItem.MITIGATE,
                         completed_at=ts(BASE_TIME + 7200))
    return [
        postmortem(TEAM_A, pm.SEV2, BASE_TIME, "Payments pool exhausted",
                   [overdue, done]),
        postmortem(TEAM_A, pm.SEV2, BASE_TIME + 10 * DAY,
                   "Payments pool exhausted again", [open_later]),
        postmortem(TEAM_A, pm.SEV3, BASE_TIME + 20 * DAY,
                   "Search index lagging"),
        postmortem(TEAM_B, pm.SEV2, BASE_TIME + 40 * DAY,
                   "Login tokens rejected"),
    ]


def setUpModule():
    global SERVER, HTTP, CHANNEL
    SERVER = dejad_process.DejadProcess(
        extra_args=["--http-listen", "127.0.0.1:0"])
    try:
        SERVER.start()
        # dejad logs the HTTP address before its stdout "listening" line.
        m = _SERVING_HTTP.search(SERVER.stderr_text(tail=1 << 20))
        if not m:
            raise AssertionError("dejad logged no 'serving HTTP on' line\n"
                                 + SERVER.stderr_text())
        HTTP = "http://" + m.group(1)
        CHANNEL = grpc.insecure_channel(SERVER.address)
        grpc.channel_ready_future(CHANNEL).result(timeout=RPC_TIMEOUT_S)
        submit = svc_grpc.PostmortemServiceStub(CHANNEL)
        for p in submitted_postmortems():
            submit.SubmitPostmortem(
                svc.SubmitPostmortemRequest(postmortem=p, wait_searchable=True),
                timeout=RPC_TIMEOUT_S)
    except BaseException:
        if CHANNEL is not None:
            CHANNEL.close()
        SERVER.cleanup()
        raise


def tearDownModule():
    try:
        if CHANNEL is not None:
            CHANNEL.close()
    finally:
        dejad_process.stop_module_server(SERVER)


def http(path, params=None, body=None, method=None):
    """(status, content type, body text) of one HTTP request."""
    url = HTTP + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as r:
            return (r.status, r.headers.get("Content-Type"),
                    r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode("utf-8")


def as_json(message):
    """The gRPC answer printed the way the gateway prints it: proto3 JSON
    mapping, every primitive field included."""
    return json_format.MessageToDict(message,
                                     including_default_value_fields=True)


# The gateway's status mapping, for the comparison of errors.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# path -> (gRPC method name, request type)
ROUTES = {
    "/v1/stats/overview": ("GetOverview", stats.StatsRequest),
    "/v1/stats/trend": ("GetTrend", stats.TrendRequest),
    "/v1/stats/recurrence": ("GetRecurrenceStats", stats.StatsRequest),
    "/v1/stats/action-items": ("GetActionItemStats", stats.StatsRequest),
}


def metric_samples():
    """{(sample name, frozenset of label items): value} from /metrics, parsed
    by the official Python client's parser."""
    status, content_type, text = http("/metrics")
    assert status == 200, (status, text)
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    samples = {}
    families = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return families, samples


class HttpStatsTest(unittest.TestCase):
    def grpc_call(self, method, request):
        stub = stats_grpc.StatsServiceStub(CHANNEL)
        return getattr(stub, method)(request, timeout=RPC_TIMEOUT_S)

    def assert_same_as_grpc(self, path, params, request):
        method, _ = ROUTES[path]
        status, content_type, body = http(path, params)
        try:
            expected = as_json(self.grpc_call(method, request))
        except grpc.RpcError as e:
            # Same code, same message, over both transports.
            self.assertEqual(status, HTTP_STATUS.get(e.code(), 500), body)
            self.assertEqual(json.loads(body),
                             {"code": e.code().name, "message": e.details()})
            self.fail("%s answered %s: %s" % (method, e.code(), e.details()))
        self.assertEqual(status, 200, body)
        self.assertEqual(content_type, "application/json")
        self.assertEqual(json.loads(body), expected)
        return expected

    def test_every_stats_route_answers_what_grpc_answers(self):
        window = {"started_after": "2024-03-01T00:00:00Z",
                  "started_before": "2024-05-01T00:00:00Z"}
        for path, (_, request_type) in ROUTES.items():
            with self.subTest(path=path):
                self.assert_same_as_grpc(path, {}, request_type())
                request = request_type(started_after=ts(1709251200),
                                       started_before=ts(1714521600))
                self.assert_same_as_grpc(path, window, request)

    def test_team_filter_counts_only_that_teams_incidents(self):
        overview = self.assert_same_as_grpc(
            "/v1/stats/overview", {"team": TEAM_A},
            stats.StatsRequest(team=TEAM_A))
        self.assertEqual(overview["incidents"], "3")
        by_severity = {c["severity"]: c["incidents"]
                       for c in overview["bySeverity"]}
        self.assertEqual(by_severity["SEV2"], "2")
        self.assertEqual(by_severity["SEV3"], "1")
        self.assertEqual(by_severity["SEV1"], "0")

    def test_time_window_filter(self):
        # Only the last two of team A's incidents started after day 5.
        overview = self.assert_same_as_grpc(
            "/v1/stats/overview",
            {"team": TEAM_A, "started_after": "2024-03-06T10:00:00Z"},
            stats.StatsRequest(team=TEAM_A,
                               started_after=ts(BASE_TIME + 5 * DAY)))
        self.assertEqual(overview["incidents"], "2")

    def test_trend_takes_interval_and_split_by_names(self):
        trend = self.assert_same_as_grpc(
            "/v1/stats/trend",
            {"team": TEAM_A, "interval": "WEEK", "split_by": "SEVERITY"},
            stats.TrendRequest(team=TEAM_A,
                               interval=stats.TrendRequest.WEEK,
                               split_by=stats.TrendRequest.SEVERITY))
        self.assertEqual(trend["interval"], "WEEK")
        self.assertEqual(sum(int(b["incidents"]) for b in trend["buckets"]), 3)

    def test_post_with_a_json_body_answers_like_get(self):
        status, _, posted = http("/v1/stats/trend",
                                 body={"team": TEAM_A, "interval": "MONTH"})
        self.assertEqual(status, 200, posted)
        status, _, got = http("/v1/stats/trend",
                              {"team": TEAM_A, "interval": "MONTH"})
        self.assertEqual(status, 200, got)
        self.assertEqual(json.loads(posted), json.loads(got))

    def test_bad_parameter_is_400_naming_it(self):
        for params, name in [({"started_after": "last tuesday"},
                              "started_after"),
                             ({"limit": "500"}, "limit"),
                             ({"teem": "orders"}, "teem")]:
            with self.subTest(params=params):
                status, content_type, body = http("/v1/stats/overview",
                                                  params)
                self.assertEqual(status, 400, body)
                self.assertEqual(content_type, "application/json")
                error = json.loads(body)
                self.assertEqual(error["code"], "INVALID_ARGUMENT")
                self.assertTrue(error["message"].startswith(name + ":"),
                                error["message"])
        status, _, body = http("/v1/stats/trend", {"interval": "DAY"})
        self.assertEqual(status, 400, body)
        self.assertIn("interval", json.loads(body)["message"])

    def test_unknown_path_is_404(self):
        status, _, body = http("/v1/stats/everything")
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["code"], "NOT_FOUND")

    def test_requests_refused_by_the_http_layer_get_json_errors_too(self):
        # Answers httplib makes before any route runs: a method with no
        # route, a URI or body over the limits.
        status, kind, body = http("/v1/stats/overview", method="OPTIONS")
        self.assertEqual(status, 405, body)
        self.assertIn("OPTIONS", json.loads(body)["message"])
        status, kind, body = http("/v1/stats/overview",
                                  params={"team": "a" * 9000})
        self.assertEqual(status, 414, body)
        self.assertEqual(kind, "application/json")
        self.assertEqual(json.loads(body)["code"], "INVALID_ARGUMENT")
        status, kind, body = http("/v1/stats/overview",
                                  body={"team": "a" * (1 << 20)})
        self.assertEqual(status, 413, body)
        self.assertIn("too large", json.loads(body)["message"])

    def test_idle_connections_do_not_starve_the_health_probe(self):
        host, port = HTTP[len("http://"):].rsplit(":", 1)
        idle = [socket.create_connection((host, int(port)), timeout=5)
                for _ in range(100)]
        try:
            # Not a speed assertion: with 8 workers holding each connection
            # for 5 s (httplib's defaults) the probe waited about a minute,
            # past HTTP_TIMEOUT_S, and urlopen raised.
            status, _, body = http("/healthz")
            self.assertEqual(status, 200, body)
        finally:
            for sock in idle:
                sock.close()


class HttpHealthAndMetricsTest(unittest.TestCase):
    def test_healthz_says_serving(self):
        for path in ("/healthz", "/v1/health"):
            status, _, body = http(path)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body), {"status": "SERVING"})

    def test_metrics_parse_and_hold_every_family(self):
        families, _ = metric_samples()
        # The parser names counters without their _total suffix.
        for name in ("deja_rpc_requests", "deja_rpc_duration_seconds",
                     "deja_database_errors", "deja_index_lag_seconds",
                     "deja_index_outbox_pending", "deja_index_documents",
                     "deja_incidents", "deja_action_items_open",
                     "deja_action_items_overdue", "deja_repeats_last_30_days"):
            self.assertIn(name, families)

    def test_request_counters_count_both_transports(self):
        method = "deja.v1.StatsService/GetOverview"

        def count(transport):
            _, samples = metric_samples()
            key = ("deja_rpc_requests_total", frozenset(
                {"method": method, "code": "OK",
                 "transport": transport}.items()))
            return samples.get(key, 0)

        grpc_before, http_before = count("grpc"), count("http")
        stats_grpc.StatsServiceStub(CHANNEL).GetOverview(
            stats.StatsRequest(), timeout=RPC_TIMEOUT_S)
        self.assertEqual(http("/v1/stats/overview")[0], 200)
        self.assertEqual(count("grpc"), grpc_before + 1)
        self.assertEqual(count("http"), http_before + 1)

        _, samples = metric_samples()
        submits = samples.get(("deja_rpc_requests_total", frozenset(
            {"method": "deja.v1.PostmortemService/SubmitPostmortem",
             "code": "OK", "transport": "grpc"}.items())))
        self.assertEqual(submits, 4)
        self.assertGreaterEqual(samples[(
            "deja_rpc_duration_seconds_count",
            frozenset({"method": method, "code": "OK"}.items()))], 2)

    def test_knowledge_base_gauges_show_what_was_submitted(self):
        _, samples = metric_samples()

        def gauge(name, **labels):
            return samples[(name, frozenset(labels.items()))]

        self.assertEqual(gauge("deja_incidents", severity="SEV2"),
                         SUBMITTED_SEV2)
        self.assertEqual(gauge("deja_incidents", severity="SEV3"),
                         SUBMITTED_SEV3)
        self.assertEqual(gauge("deja_incidents", severity="SEV1"), 0)
        self.assertEqual(gauge("deja_action_items_open"),
                         SUBMITTED_OPEN_ITEMS)
        self.assertEqual(gauge("deja_action_items_overdue"),
                         SUBMITTED_OVERDUE_ITEMS)
        # The submitted incidents started in 2024: none in the last 30 days.
        self.assertEqual(gauge("deja_repeats_last_30_days"), 0)
        self.assertEqual(gauge("deja_database_errors_total"), 0)

    def test_index_gauges_show_the_indexed_postmortems(self):
        # Submits waited until searchable; the indexer's own status may
        # catch up a moment later, so poll (no timing asserted).
        deadline = time.monotonic() + 60
        while True:
            _, samples = metric_samples()
            documents = samples[("deja_index_documents", frozenset())]
            if documents == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(documents, 4)
        self.assertGreaterEqual(
            samples[("deja_index_lag_seconds", frozenset())], 0)
        self.assertGreaterEqual(
            samples[("deja_index_outbox_pending", frozenset())], 0)


if __name__ == "__main__":
    unittest.main()
