"""End-to-end: SearchService and AdminService of the real dejad, through a
Python gRPC client.

setUpModule loads every sample postmortem ($DEJA_SAMPLES, fictional Northwind
Logistics incidents of 2023-2025). Postmortems the tests create themselves
start in 2026 or later and use words of their own, so that queries about the
samples (bounded to before 2026) see exactly the samples. The last class
restarts dejad (index directory deleted, then corrupted) and runs last.
"""

import glob
import os
import shutil
import threading
import time
import unittest
import uuid

import grpc

import dejad_process

dejad_process.import_generated()

from google.protobuf import json_format, timestamp_pb2  # noqa: E402
from deja.v1 import admin_service_pb2 as admin  # noqa: E402
from deja.v1 import admin_service_pb2_grpc as admin_grpc  # noqa: E402
from deja.v1 import postmortem_pb2 as pm  # noqa: E402
from deja.v1 import postmortem_service_pb2 as svc  # noqa: E402
from deja.v1 import postmortem_service_pb2_grpc as svc_grpc  # noqa: E402
from deja.v1 import search_service_pb2 as search  # noqa: E402
from deja.v1 import search_service_pb2_grpc as search_grpc  # noqa: E402

RPC_TIMEOUT_S = 30
INDEX_TIMEOUT_S = 60
SERVER = None
SAMPLES = {}  # "03" -> postmortem id
_channels = {}

# 2026-01-01T00:00:00Z: the samples all started before it.
SAMPLES_END = 1767225600

# The samples' repeat families (samples/README.md).
FAMILIES = {
    "orders-db-connections": ["03", "11", "22"],
    "dns": ["08", "19"],
    "certificates": ["10", "21"],
    "consumer-rebalance": ["05", "18"],
    "route-planner-oom": ["06", "15", "25"],
}

# A new outage of each family as an engineer would type it today: written for
# this test, not taken from the sample files. Log lines keep the error shape
# of the family with other hosts, pids, addresses and times.
FRESH = {
    "orders-db-connections": (
        "Order creation is failing for a good share of customers. The orders "
        "database refuses new sessions and says there are too many clients; "
        "the API pods cannot get a connection from their pool.",
        ["2025-11-03 09:12:55.410 UTC [90311] orders_app@orders FATAL:  "
         "sorry, too many clients already"],
        ["postgres-orders"]),
    "dns": (
        "Calls between services inside the cluster time out because name "
        "lookups fail with SERVFAIL; the cluster DNS pods look overloaded.",
        # The looked-up name is part of the error (another name is another
        # error); the resolver's address is not.
        ["dial tcp: lookup tracking-api.internal on 10.96.0.10:53: server "
         "misbehaving"],
        ["coredns"]),
    "certificates": (
        "Clients cannot connect any more: the TLS handshake is rejected "
        "because the certificate expired overnight.",
        ["x509: certificate has expired or is not yet valid: current time "
         "2025-12-31T23:10:00Z is after 2025-12-31T22:59:59Z"],
        ["edge-proxy"]),
    "consumer-rebalance": (
        "Notification consumers keep getting kicked out of their Kafka "
        "consumer group; the group rebalances over and over and lag keeps "
        "growing while messages wait.",
        ["org.apache.kafka.clients.consumer.CommitFailedException: Offset "
         "commit cannot be completed since the consumer is not part of an "
         "active group for auto partition assignment; it is likely that the "
         "consumer was kicked out of the group."],
        ["notifications-worker"]),
    "route-planner-oom": (
        "Route planning pods are killed by the kernel for running out of "
        "memory during the morning run and restart in a loop.",
        ["Nov 04 05:02:11 ip-10-20-77-9 kernel: [5512.128] Out of memory: "
         "Killed process 3311 (route-planner) total-vm:9102332kB, "
         "anon-rss:6300112kB, file-rss:0kB, shmem-rss:0kB, UID:10001 "
         "pgtables:14000kB oom_score_adj:985"],
        ["route-planner"]),
}


def setUpModule():
    global SERVER
    samples_dir = dejad_process.env_path("DEJA_SAMPLES")
    files = sorted(glob.glob(os.path.join(samples_dir, "*.json")))
    if not files:
        raise unittest.SkipTest("no sample postmortems in %s" % samples_dir)
    SERVER = dejad_process.start_module_server()
    for n, path in enumerate(files, 1):
        with open(path, encoding="utf-8") as f:
            postmortem = json_format.Parse(f.read(), pm.Postmortem())
        response = postmortems().SubmitPostmortem(
            svc.SubmitPostmortemRequest(
                postmortem=postmortem,
                request_id="search-e2e-" + os.path.basename(path),
                wait_searchable=(n == len(files))),
            timeout=RPC_TIMEOUT_S)
        SAMPLES[os.path.basename(path)[:2]] = response.postmortem.id
    wait_index_idle()


def tearDownModule():
    try:
        close_channels()
    finally:
        dejad_process.stop_module_server(SERVER)


def close_channels():
    for ch in _channels.values():
        ch.close()
    _channels.clear()


def channel():
    addr = SERVER.address
    ch = _channels.get(addr)
    if ch is None:
        ch = grpc.insecure_channel(addr)
        grpc.channel_ready_future(ch).result(timeout=RPC_TIMEOUT_S)
        _channels[addr] = ch
    return ch


def postmortems():
    return svc_grpc.PostmortemServiceStub(channel())


def searcher():
    return search_grpc.SearchServiceStub(channel())


def admin_stub():
    return admin_grpc.AdminServiceStub(channel())


def ts(seconds):
    return timestamp_pb2.Timestamp(seconds=seconds)


def index_status():
    return admin_stub().GetIndexStatus(admin.GetIndexStatusRequest(),
                                       timeout=RPC_TIMEOUT_S)


def wait_index_idle(documents=None):
    """Polls GetIndexStatus until nothing is pending, recurrence links
    included (and, when given, the index holds `documents`); returns the
    last status."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while True:
        status = index_status()
        if status.pending == 0 and status.link_pending == 0 and (
                documents is None or status.documents == documents):
            return status
        if time.monotonic() > deadline:
            raise AssertionError("index not idle after %d s: %s"
                                 % (INDEX_TIMEOUT_S, status))
        time.sleep(0.1)


def run_search(query="", **fields):
    fields.setdefault("started_before", ts(SAMPLES_END))
    return searcher().Search(search.SearchRequest(query=query, **fields),
                             timeout=RPC_TIMEOUT_S)


def find_similar(**fields):
    return searcher().FindSimilar(search.FindSimilarRequest(**fields),
                                  timeout=RPC_TIMEOUT_S)


def hit_ids(response):
    return [h.incident.id for h in response.hits]


def similar_ids(response):
    return [i.incident.id for i in response.incidents]


def sample_ids(*numbers):
    return {SAMPLES[n] for n in numbers}


def submit(postmortem, wait=True):
    return postmortems().SubmitPostmortem(
        svc.SubmitPostmortemRequest(postmortem=postmortem,
                                    request_id=str(uuid.uuid4()),
                                    wait_searchable=wait),
        timeout=RPC_TIMEOUT_S)


def own_postmortem(word, service, log_line, started=SAMPLES_END + 86400):
    """A postmortem about a parcel-locker fault that no sample mentions;
    `word` is a made-up word only this postmortem contains."""
    return pm.Postmortem(
        team="lockers-" + word,
        title="Parcel lockers %s rejected every pickup code" % word,
        summary="After a firmware push the %s lockers in the north region "
                "rejected every pickup code, so customers could not collect "
                "parcels for two hours." % word,
        severity=pm.SEV3,
        started_at=ts(started),
        services=[service],
        tags=["lockers"],
        root_causes=[pm.RootCause(category=pm.RootCause.DEPLOYMENT,
                                  description="The firmware compared pickup "
                                  "codes with a checksum of the wrong width.")],
        resolution="Rolled the lockers back to the previous firmware.",
        action_items=[pm.ActionItem(description="Canary firmware on ten "
                                    "lockers first", owner="lockers-oncall",
                                    status=pm.ActionItem.OPEN,
                                    kind=pm.ActionItem.PREVENT)],
        log_lines=[log_line])


class RpcAsserts(unittest.TestCase):
    maxDiff = None

    def assertInvalidArgument(self, fn, request):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(request, timeout=RPC_TIMEOUT_S)
        err = cm.exception
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         "request %r: want INVALID_ARGUMENT, got %s: %s"
                         % (str(request)[:200], err.code(), err.details()))
        self.assertTrue(err.details(), "INVALID_ARGUMENT without a message")


class WaitSearchableTest(RpcAsserts):
    def test_submit_waits_then_find_similar_explains_the_match(self):
        word = "zorblax" + uuid.uuid4().hex[:6]
        service = "locker-gateway-" + uuid.uuid4().hex[:6]
        line = ("2026-01-02T10:11:12.345Z ERROR [locker-fw-17] pickup code "
                "rejected: checksum mismatch for locker 4411 (want 0x3f2a)")
        response = submit(own_postmortem(word, service, line))
        self.assertTrue(response.searchable, response)
        pid = response.postmortem.id

        # Read-your-writes: no polling after a searchable answer.
        self.assertIn(pid, hit_ids(searcher().Search(
            search.SearchRequest(query=word), timeout=RPC_TIMEOUT_S)))

        # The same error from another locker, another time, another value.
        other_host = ("2026-02-20T03:04:05.678Z ERROR [locker-fw-902] pickup "
                      "code rejected: checksum mismatch for locker 87 "
                      "(want 0x91bc)")
        answer = find_similar(
            symptoms="Parcel lockers rejected every pickup code after a "
                     "firmware push",
            log_lines=[other_host], services=[service], limit=5)
        ids = similar_ids(answer)
        self.assertEqual(ids[0], pid, answer)
        match = answer.incidents[0]
        fields = {m.field: set(t.lower() for t in m.terms)
                  for m in match.matched_terms}
        self.assertIn("title", fields, match)
        self.assertTrue({"lockers", "pickup"} & fields["title"], match)
        self.assertIn("summary", fields, match)
        self.assertTrue(match.shared_signatures, match)
        self.assertEqual(len(answer.query_signatures), 1, answer)
        self.assertEqual(match.shared_signatures[0].id,
                         answer.query_signatures[0].id)
        self.assertRegex(match.shared_signatures[0].id, r"^[0-9a-f]{16}$")
        self.assertIn(service, list(match.shared_services))
        self.assertEqual(match.open_action_items, 1)
        self.assertGreater(match.score, 0)
        self.assertLessEqual(match.score, 1)
        self.assertNotEqual(answer.verdict, search.NEW, answer)

    def test_index_status_pending_reaches_zero(self):
        for n in range(3):
            submit(own_postmortem("statusword%d%s" % (n, uuid.uuid4().hex[:6]),
                                  "locker-status", "status line %d" % n),
                   wait=False)
        status = wait_index_idle()
        self.assertTrue(status.indexer_running, status)
        self.assertGreaterEqual(status.documents, len(SAMPLES) + 3)
        self.assertTrue(status.index_path, status)
        self.assertEqual(status.last_error, "", status)
        self.assertGreaterEqual(status.lag_seconds, 0)


class RepeatFamiliesTest(RpcAsserts):
    def test_more_like_this_finds_the_family(self):
        for family, members in FAMILIES.items():
            for member in members:
                with self.subTest(family=family, member=member):
                    answer = find_similar(postmortem_id=SAMPLES[member])
                    ids = similar_ids(answer)
                    self.assertNotIn(SAMPLES[member], ids)
                    others = sample_ids(*[m for m in members if m != member])
                    top = set(ids[:5])
                    self.assertTrue(others <= top,
                                    "%s: want %s in the top 5 of %s"
                                    % (member, others, ids))
                    self.assertNotEqual(answer.verdict, search.NEW)

    def test_fresh_symptoms_find_the_family(self):
        for family, (symptoms, _, services) in FRESH.items():
            with self.subTest(family=family):
                answer = find_similar(symptoms=symptoms, services=services,
                                      started_before=ts(SAMPLES_END))
                members = sample_ids(*FAMILIES[family])
                ids = similar_ids(answer)
                self.assertIn(ids[0], members, answer)
                self.assertTrue(members <= set(ids[:5]),
                                "want %s in the top 5 of %s" % (members, ids))
                self.assertNotEqual(answer.verdict, search.NEW)

    def test_fresh_log_line_is_seen_before(self):
        for family, (symptoms, log_lines, services) in FRESH.items():
            with self.subTest(family=family):
                answer = find_similar(symptoms=symptoms, log_lines=log_lines,
                                      services=services,
                                      started_before=ts(SAMPLES_END))
                self.assertEqual(answer.verdict, search.SEEN_BEFORE, answer)
                top = answer.incidents[0]
                self.assertIn(top.incident.id, sample_ids(*FAMILIES[family]))
                self.assertEqual(top.verdict, search.SEEN_BEFORE)
                self.assertTrue(top.shared_signatures, top)
                self.assertTrue(top.matched_terms, top)
                # What fixed it last time, and whether that is done.
                self.assertTrue(top.incident.action_items, top)

    def test_started_before_bounds_the_answer(self):
        # Only 03 started before 2023-05-01 in its family.
        answer = find_similar(
            symptoms=FRESH["orders-db-connections"][0],
            log_lines=FRESH["orders-db-connections"][1],
            started_before=ts(1682899200))
        ids = similar_ids(answer)
        self.assertIn(SAMPLES["03"], ids)
        for pid in sample_ids("11", "22"):
            self.assertNotIn(pid, ids)
        for incident in answer.incidents:
            self.assertLess(incident.incident.started_at.seconds, 1682899200)

    def test_unrelated_outage_is_new(self):
        answer = find_similar(
            symptoms="The research vessel's satellite uplink lost lock during "
                     "a solar storm and the onboard telescope mirror "
                     "actuators froze.",
            started_before=ts(SAMPLES_END))
        self.assertEqual(answer.verdict, search.NEW, answer)


class SearchLanguageTest(RpcAsserts):
    def test_field_prefix_and_phrase(self):
        ids = set(hit_ids(run_search("title:certificate")))
        self.assertTrue(sample_ids("10", "21") <= ids, ids)
        ids = set(hit_ids(run_search('"too many clients"')))
        self.assertTrue(sample_ids("11", "22") <= ids, ids)

    def test_service_prefix_and_filter_agree(self):
        by_prefix = set(hit_ids(run_search("service:route-planner",
                                           page_size=100)))
        by_filter = set(hit_ids(run_search(services=["route-planner"],
                                           page_size=100)))
        self.assertEqual(by_prefix, sample_ids("02", "06", "15", "25"))
        self.assertEqual(by_filter, by_prefix)

    def test_boolean_and_exclusion(self):
        oom = set(hit_ids(run_search("oomkilled", page_size=100)))
        self.assertTrue(sample_ids("06", "25") <= oom, oom)
        without = set(hit_ids(run_search("oomkilled -consolidation",
                                         page_size=100)))
        self.assertNotIn(SAMPLES["25"], without)
        self.assertIn(SAMPLES["06"], without)
        either = set(hit_ids(run_search("coredns OR pgbouncer",
                                        page_size=100)))
        self.assertTrue(sample_ids("08", "19", "22") <= either, either)
        both = set(hit_ids(run_search("coredns AND pgbouncer",
                                      page_size=100)))
        self.assertFalse(both & sample_ids("22"), both)

    def test_severity_date_and_team(self):
        self.assertEqual(set(hit_ids(run_search("severity:1", page_size=100))),
                         sample_ids("10", "23", "26"))
        in_2024 = set(hit_ids(run_search("started:2024-01-01..2024-12-31",
                                          page_size=100)))
        self.assertEqual(in_2024, sample_ids(*["%02d" % n
                                               for n in range(11, 22)]))
        self.assertEqual(set(hit_ids(run_search(teams=["orders"]))),
                         sample_ids("03", "11"))

    def test_facets_count_every_match(self):
        response = run_search("service:route-planner", page_size=1)
        self.assertEqual(len(response.hits), 1)
        self.assertEqual(response.total_matches, 4)
        facets = {f.field: {c.value: c.count for c in f.counts}
                  for f in response.facets}
        self.assertEqual(facets["service"]["route-planner"], 4)
        self.assertEqual(facets["team"]["routing"], 4)
        self.assertEqual(sum(facets["year"].values()), 4)
        self.assertEqual(facets["year"].get("2023"), 2)

    def test_newest_first_and_paging(self):
        seen, token, pages = [], "", 0
        while True:
            response = run_search(services=["tracking-api"], sort=search.SearchRequest.NEWEST,
                                  page_size=2, page_token=token)
            seen.extend(h.incident for h in response.hits)
            pages += 1
            token = response.next_page_token
            if not token:
                break
            self.assertLess(pages, 10)
        self.assertEqual([i.id for i in seen],
                         [SAMPLES[n] for n in ("29", "26", "19", "16", "10", "08")])
        self.assertIn(pages, (3, 4))  # 4 only if the 4th page came back empty

    def test_hit_carries_summary_and_snippet(self):
        response = run_search("pgbouncer")
        hit = next(h for h in response.hits if h.incident.id == SAMPLES["22"])
        self.assertEqual(hit.incident.team, "platform")
        self.assertIn("postgres-orders", hit.incident.services)
        self.assertTrue(hit.incident.action_items)
        self.assertIn("<mark>", hit.snippet)
        self.assertGreater(hit.score, 0)


class BadRequestTest(RpcAsserts):
    def test_unreadable_queries(self):
        for query in ["foo AND", "((((", "*", "x" * 10240, "outage " * 1463]:
            with self.subTest(query=query[:30]):
                self.assertInvalidArgument(searcher().Search,
                                           search.SearchRequest(query=query))

    def test_bad_paging(self):
        self.assertInvalidArgument(searcher().Search, search.SearchRequest(
            query="dns", page_token="not-a-token"))
        for size in (-1, 101):
            with self.subTest(page_size=size):
                self.assertInvalidArgument(searcher().Search,
                                           search.SearchRequest(
                                               query="dns", page_size=size))

    def test_bad_find_similar(self):
        for request in [
                search.FindSimilarRequest(symptoms="dns", limit=-1),
                search.FindSimilarRequest(symptoms="dns", limit=51),
                search.FindSimilarRequest(),
                search.FindSimilarRequest(postmortem_id=SAMPLES["08"],
                                          symptoms="dns"),
                search.FindSimilarRequest(postmortem_id="not-a-uuid"),
                search.FindSimilarRequest(symptoms="x" * (1 << 20))]:
            with self.subTest(request=str(request)[:60]):
                self.assertInvalidArgument(searcher().FindSimilar, request)

    def test_unknown_postmortem_id_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            find_similar(postmortem_id=str(uuid.uuid4()))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_server_still_answers(self):
        self.assertTrue(hit_ids(run_search("certificate")))


class DeleteTest(RpcAsserts):
    def test_deleted_postmortem_leaves_search(self):
        word = "quuxified" + uuid.uuid4().hex[:6]
        created = submit(own_postmortem(word, "locker-delete", "delete line"))
        pid = created.postmortem.id
        self.assertIn(pid, hit_ids(searcher().Search(
            search.SearchRequest(query=word), timeout=RPC_TIMEOUT_S)))
        postmortems().DeletePostmortem(svc.DeletePostmortemRequest(id=pid),
                                       timeout=RPC_TIMEOUT_S)
        deadline = time.monotonic() + INDEX_TIMEOUT_S
        while True:
            found = pid in hit_ids(searcher().Search(
                search.SearchRequest(query=word), timeout=RPC_TIMEOUT_S))
            similar = pid in similar_ids(find_similar(
                symptoms="parcel lockers %s rejected pickup codes" % word))
            if not found and not similar:
                break
            self.assertLess(time.monotonic(), deadline,
                            "still searchable after delete")
            time.sleep(0.1)
        with self.assertRaises(grpc.RpcError) as cm:
            find_similar(postmortem_id=pid)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)


class RebuildTest(RpcAsserts):
    def test_rebuild_while_searching_loses_no_query(self):
        before = wait_index_idle()
        stop = threading.Event()
        calls, failures = [0], []
        lock = threading.Lock()

        def keep_searching(n):
            stub = search_grpc.SearchServiceStub(channel())
            while not stop.is_set():
                try:
                    if n % 2:
                        r = stub.Search(search.SearchRequest(query="certificate"),
                                        timeout=RPC_TIMEOUT_S)
                        ok = SAMPLES["10"] in hit_ids(r)
                    else:
                        r = stub.FindSimilar(search.FindSimilarRequest(
                            symptoms=FRESH["dns"][0]), timeout=RPC_TIMEOUT_S)
                        ok = bool(sample_ids("08", "19") & set(similar_ids(r)))
                    with lock:
                        calls[0] += 1
                        if not ok:
                            failures.append("call %d: wrong answer" % calls[0])
                except grpc.RpcError as e:
                    with lock:
                        failures.append("%s: %s" % (e.code(), e.details()))

        threads = [threading.Thread(target=keep_searching, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            first = admin_stub().RebuildIndex(admin.RebuildIndexRequest(),
                                              timeout=120)
            second = admin_stub().RebuildIndex(admin.RebuildIndexRequest(),
                                               timeout=120)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [], "%d of %d calls failed"
                         % (len(failures), calls[0]))
        self.assertGreater(calls[0], 10)
        self.assertEqual(first.documents, before.documents)
        self.assertEqual(second.documents, before.documents)
        self.assertNotEqual(first.index_path, second.index_path)
        after = index_status()
        self.assertEqual(after.documents, before.documents)
        self.assertEqual(after.index_path, second.index_path)
        self.assertTrue(after.HasField("last_rebuild"))


class ZzRestartTest(RpcAsserts):
    """Runs last: restarts dejad."""

    def everything_found(self, documents):
        wait_index_idle(documents)
        for family, members in FAMILIES.items():
            answer = find_similar(symptoms=FRESH[family][0],
                                  log_lines=FRESH[family][1],
                                  started_before=ts(SAMPLES_END))
            self.assertIn(answer.incidents[0].incident.id,
                          sample_ids(*members), family)
        self.assertEqual(set(hit_ids(run_search("severity:1"))),
                         sample_ids("10", "23", "26"))

    def index_dir(self):
        return os.path.dirname(index_status().index_path)

    def restart_with(self, damage):
        documents = wait_index_idle().documents
        index_dir = self.index_dir()
        self.assertTrue(os.path.isdir(index_dir), index_dir)
        close_channels()
        SERVER.stop()
        damage(index_dir)
        SERVER.start()
        self.everything_found(documents)

    def test_a_deleted_index_directory_is_rebuilt(self):
        self.restart_with(lambda d: shutil.rmtree(d))

    def test_b_corrupted_index_is_rebuilt(self):
        def corrupt(index_dir):
            current = os.path.realpath(os.path.join(index_dir, "current"))
            files = [os.path.join(root, name)
                     for root, _, names in os.walk(current) for name in names]
            self.assertTrue(files, "no index files under %s" % current)
            for path in files:
                with open(path, "r+b") as f:
                    size = max(os.path.getsize(path), 4096)
                    f.write(os.urandom(size))
        self.restart_with(corrupt)


if __name__ == "__main__":
    unittest.main()
