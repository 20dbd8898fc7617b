"""End-to-end: a Python gRPC client (stubs generated from protos/deja/v1)
against the real dejad with its embedded PostgreSQL.

Every test works in its own team (and services / tags) with a random suffix,
so the tests do not see each other's postmortems and can run in any order.
"""

import threading
import time
import unittest
import uuid

import grpc

import dejad_process

dejad_process.import_generated()

from google.protobuf import duration_pb2, timestamp_pb2  # noqa: E402
from deja.v1 import postmortem_pb2 as pm  # noqa: E402
from deja.v1 import postmortem_service_pb2 as svc  # noqa: E402
from deja.v1 import postmortem_service_pb2_grpc as svc_grpc  # noqa: E402

RPC_TIMEOUT_S = 30
SERVER = None
_channels = {}

# 2024-03-01T10:00:00Z
BASE_TIME = 1709287200


def setUpModule():
    global SERVER
    SERVER = dejad_process.start_module_server()


def tearDownModule():
    try:
        for ch in _channels.values():
            ch.close()
        _channels.clear()
    finally:
        dejad_process.stop_module_server(SERVER)


def channel():
    """A channel to the current dejad (the address changes on restart)."""
    addr = SERVER.address
    ch = _channels.get(addr)
    if ch is None:
        ch = grpc.insecure_channel(addr)
        grpc.channel_ready_future(ch).result(timeout=RPC_TIMEOUT_S)
        _channels[addr] = ch
    return ch


def stub():
    return svc_grpc.PostmortemServiceStub(channel())


def suffix():
    return uuid.uuid4().hex[:10]


def ts(seconds):
    return timestamp_pb2.Timestamp(seconds=seconds)


def minimal_postmortem(team=None, title="Checkout latency spike", **overrides):
    p = pm.Postmortem(
        team=team or "e2e-team-" + suffix(),
        title=title,
        summary="p99 latency of checkout rose to 4 s for 20 minutes.",
        severity=pm.SEV3,
        started_at=ts(BASE_TIME),
        services=["checkout"],
    )
    for k, v in overrides.items():
        field = getattr(p, k)
        if hasattr(field, "extend") and not isinstance(v, (str, bytes)):
            del field[:]
            field.extend(v)
        elif hasattr(field, "CopyFrom"):
            field.CopyFrom(v)
        else:
            setattr(p, k, v)
    return p


def rich_postmortem(team=None):
    t = BASE_TIME
    return pm.Postmortem(
        team=team or "e2e-team-" + suffix(),
        title="Payments API 5xx after connection pool exhaustion",
        summary="A config change halved the database connection pool of "
                "payments-api; under the evening peak requests queued and "
                "timed out, returning 503 to 12% of checkout attempts.",
        severity=pm.SEV2,
        status=pm.Postmortem.IN_REVIEW,
        started_at=ts(t),
        detected_at=ts(t + 240),
        mitigated_at=ts(t + 1800),
        resolved_at=ts(t + 5400),
        services=["payments-api", "postgres-main"],
        tags=["connection-pool", "config"],
        impact=pm.Impact(description="12% of checkouts failed with 503",
                         users_affected=4200,
                         duration=duration_pb2.Duration(seconds=1560)),
        detection=pm.Detection(source=pm.Detection.ALERT,
                               description="5xx rate alert on payments-api"),
        timeline=[
            pm.TimelineEvent(at=ts(t), description="Config deploy rolls out"),
            pm.TimelineEvent(at=ts(t + 240), description="5xx alert pages on-call"),
            pm.TimelineEvent(at=ts(t + 1800), description="Config rolled back"),
        ],
        whys=[
            pm.Why(question="Why did checkouts fail?",
                   answer="payments-api returned 503."),
            pm.Why(question="Why did payments-api return 503?",
                   answer="Requests waited too long for a DB connection."),
            pm.Why(question="Why were there no connections?",
                   answer="The pool size was lowered from 40 to 20."),
        ],
        root_causes=[
            pm.RootCause(category=pm.RootCause.CONFIG_CHANGE,
                         description="Pool size lowered without load test"),
            pm.RootCause(category=pm.RootCause.CAPACITY,
                         description="Evening peak needs 35 connections"),
        ],
        contributing_factors=["No alert on pool saturation",
                              "Config review did not include capacity owner"],
        resolution="Rolled the pool size back to 40.",
        mitigation_steps=["Rolled back config", "Restarted two stuck pods"],
        action_items=[
            pm.ActionItem(description="Alert on pool wait time > 100 ms",
                          owner="alice", due_date="2024-04-01",
                          status=pm.ActionItem.OPEN,
                          kind=pm.ActionItem.DETECT,
                          tracker_url="https://tracker.example.com/OPS-1"),
            pm.ActionItem(description="Load test config changes to pools",
                          owner="team-payments", due_date="2024-05-15",
                          status=pm.ActionItem.IN_PROGRESS,
                          kind=pm.ActionItem.PREVENT),
        ],
        lessons=pm.LessonsLearned(went_well=["Rollback took 2 minutes"],
                                  went_wrong=["Alert fired late"],
                                  got_lucky=["Happened after the sale ended"]),
        participants=[
            pm.Participant(name="Dana", role="incident commander",
                           facilitator=True),
            pm.Participant(name="Eli", role="payments engineer"),
        ],
        log_lines=[
            "2024-03-01T10:03:12Z ERROR pool: timeout acquiring connection "
            "after 5000ms (active=20 idle=0 waiting=113)",
        ],
        links=[pm.Link(title="Dashboard",
                       url="https://grafana.example.com/d/payments")],
        external_id="INC-4711",
        source_url="https://wiki.example.com/postmortems/INC-4711",
    )


def content(p):
    """A copy without output-only fields, for comparing what was sent with
    what the server returns."""
    c = pm.Postmortem()
    c.CopyFrom(p)
    for f in ("id", "version", "created_at", "updated_at"):
        c.ClearField(f)
    if c.status == pm.Postmortem.STATUS_UNSPECIFIED:
        c.status = pm.Postmortem.PUBLISHED
    for item in c.action_items:
        for f in ("id", "completed_at", "history"):
            item.ClearField(f)
    return c


def submit(p, request_id=""):
    return stub().SubmitPostmortem(
        svc.SubmitPostmortemRequest(postmortem=p, request_id=request_id),
        timeout=RPC_TIMEOUT_S)


def get(pid):
    return stub().GetPostmortem(svc.GetPostmortemRequest(id=pid),
                                timeout=RPC_TIMEOUT_S)


def list_all(**filters):
    """Every page of ListPostmortems; returns (postmortems, pages)."""
    out, pages, token = [], 0, ""
    while True:
        resp = stub().ListPostmortems(
            svc.ListPostmortemsRequest(page_token=token, **filters),
            timeout=RPC_TIMEOUT_S)
        pages += 1
        out.extend(resp.postmortems)
        token = resp.next_page_token
        if not token:
            return out, pages
        if pages > 1000:
            raise AssertionError("paging does not end")


def list_ids(**filters):
    return [p.id for p in list_all(**filters)[0]]


class RpcAsserts(unittest.TestCase):
    maxDiff = None

    def assertRpcError(self, code, fn, *args, details_prefix=None, **kwargs):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kwargs)
        err = cm.exception
        self.assertEqual(err.code(), code,
                         "want %s, got %s: %s" % (code, err.code(), err.details()))
        if details_prefix is not None:
            self.assertTrue(
                (err.details() or "").startswith(details_prefix),
                "details %r should start with the field path %r"
                % (err.details(), details_prefix))
        return err


class SubmitGetTest(RpcAsserts):
    def test_submit_minimal_returns_id_and_version_1(self):
        p = minimal_postmortem()
        resp = submit(p)
        self.assertTrue(resp.postmortem.id)
        self.assertEqual(resp.postmortem.version, 1)
        self.assertFalse(resp.replayed)
        self.assertEqual(content(resp.postmortem), content(p))
        self.assertEqual(resp.postmortem.status, pm.Postmortem.PUBLISHED,
                         "status defaults to PUBLISHED")
        self.assertGreater(resp.postmortem.created_at.seconds, 0)

        got = get(resp.postmortem.id)
        self.assertEqual(got.id, resp.postmortem.id)
        self.assertEqual(got.version, 1)
        self.assertEqual(content(got), content(p))

    def test_submit_rich_get_returns_same_content(self):
        p = rich_postmortem()
        resp = submit(p)
        created = resp.postmortem
        self.assertEqual(created.version, 1)
        self.assertEqual(len(created.action_items), 2)
        ids = [a.id for a in created.action_items]
        self.assertTrue(all(ids), "every action item gets an id: %r" % ids)
        self.assertEqual(len(set(ids)), 2, "action item ids are distinct")
        self.assertEqual(content(created), content(p))

        got = get(created.id)
        self.assertEqual(content(got), content(p))
        self.assertEqual([a.id for a in got.action_items], ids)
        self.assertEqual(got.version, 1)

    def test_output_only_fields_are_ignored_on_input(self):
        p = minimal_postmortem(id="client-chosen-id", version=42)
        p.created_at.seconds = 1000
        resp = submit(p)
        self.assertNotEqual(resp.postmortem.id, "client-chosen-id")
        self.assertEqual(resp.postmortem.version, 1)

    def test_unknown_id_is_not_found(self):
        real = submit(minimal_postmortem()).postmortem.id
        unknown = same_shape_other_id(real)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, get, unknown)

    def test_malformed_id_is_invalid_argument(self):
        for bad in ("", "not an id!", "'; DROP TABLE postmortems; --"):
            with self.subTest(id=bad):
                self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, get, bad,
                                    details_prefix="id")


def same_shape_other_id(real):
    """An id with the same format as `real` that names nothing."""
    if real.isdigit():
        return str(10 ** 15 + int(uuid.uuid4().int % 10 ** 12))
    fresh = uuid.uuid4().hex
    out, i = [], 0
    for c in real:
        if c in "0123456789abcdef":
            out.append(fresh[i % len(fresh)])
            i += 1
        elif c in "ABCDEF":
            out.append(fresh[i % len(fresh)].upper())
            i += 1
        else:
            out.append(c)
    other = "".join(out)
    return other if other != real else real[::-1]


class ListTest(RpcAsserts):
    @classmethod
    def setUpClass(cls):
        s = suffix()
        cls.team = "e2e-list-" + s
        cls.svc_a = "search-" + s
        cls.svc_b = "billing-" + s
        cls.tag = "dns-" + s
        day = 86400
        # (started_at offset in days, severity, services, tags)
        specs = [
            (0, pm.SEV1, [cls.svc_a], [cls.tag]),
            (1, pm.SEV2, [cls.svc_b], []),
            (2, pm.SEV2, [cls.svc_a, cls.svc_b], [cls.tag]),
            (3, pm.SEV3, [cls.svc_b], []),
            (4, pm.SEV2, [cls.svc_a], []),
        ]
        cls.items = []  # (id, started_at seconds, severity, services, tags)
        for n, (d, sev, services, tags) in enumerate(specs):
            p = minimal_postmortem(team=cls.team, title="List case %d" % n,
                                   severity=sev, services=services, tags=tags,
                                   started_at=ts(BASE_TIME + d * day))
            created = submit(p).postmortem
            cls.items.append((created.id, BASE_TIME + d * day, sev,
                              services, tags))
        # Newest first by started_at.
        cls.newest_first = [i[0] for i in sorted(cls.items, key=lambda i: -i[1])]

    def expect(self, pred):
        return [i[0] for i in sorted(self.items, key=lambda i: -i[1]) if pred(i)]

    def test_team_newest_first(self):
        got = list_all(team=self.team)[0]
        self.assertEqual([p.id for p in got], self.newest_first)
        starts = [p.started_at.seconds for p in got]
        self.assertEqual(starts, sorted(starts, reverse=True))
        self.assertTrue(all(p.team == self.team for p in got))

    def test_filter_service(self):
        self.assertEqual(list_ids(service=self.svc_a),
                         self.expect(lambda i: self.svc_a in i[3]))
        self.assertEqual(list_ids(team=self.team, service=self.svc_b),
                         self.expect(lambda i: self.svc_b in i[3]))

    def test_filter_severity(self):
        self.assertEqual(list_ids(team=self.team, severity=pm.SEV2),
                         self.expect(lambda i: i[2] == pm.SEV2))
        self.assertEqual(list_ids(team=self.team, severity=pm.SEV1),
                         self.expect(lambda i: i[2] == pm.SEV1))
        self.assertEqual(list_ids(team=self.team, severity=pm.SEV5), [])

    def test_filter_tag(self):
        self.assertEqual(list_ids(tag=self.tag),
                         self.expect(lambda i: self.tag in i[4]))

    def test_filter_time_range_inclusive_exclusive(self):
        lo, hi = BASE_TIME + 1 * 86400, BASE_TIME + 3 * 86400
        self.assertEqual(
            list_ids(team=self.team, started_after=ts(lo), started_before=ts(hi)),
            self.expect(lambda i: lo <= i[1] < hi))
        self.assertEqual(list_ids(team=self.team, started_after=ts(hi)),
                         self.expect(lambda i: i[1] >= hi))
        self.assertEqual(list_ids(team=self.team, started_before=ts(lo)),
                         self.expect(lambda i: i[1] < lo))

    def test_filters_combine(self):
        self.assertEqual(
            list_ids(team=self.team, service=self.svc_a, severity=pm.SEV2),
            self.expect(lambda i: self.svc_a in i[3] and i[2] == pm.SEV2))

    def test_paging_two_per_page(self):
        got, pages = [], 0
        token = ""
        sizes = []
        while True:
            resp = stub().ListPostmortems(
                svc.ListPostmortemsRequest(team=self.team, page_size=2,
                                           page_token=token),
                timeout=RPC_TIMEOUT_S)
            pages += 1
            sizes.append(len(resp.postmortems))
            got.extend(p.id for p in resp.postmortems)
            token = resp.next_page_token
            if not token or pages > 10:
                break
        self.assertEqual(sizes, [2, 2, 1])
        self.assertEqual(len(got), len(set(got)), "no duplicates across pages")
        self.assertEqual(got, self.newest_first, "no gaps, newest first")

    def test_bad_page_size_and_token(self):
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub().ListPostmortems,
            svc.ListPostmortemsRequest(team=self.team, page_size=101),
            timeout=RPC_TIMEOUT_S, details_prefix="page_size")
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub().ListPostmortems,
            svc.ListPostmortemsRequest(team=self.team, page_token="garbage!"),
            timeout=RPC_TIMEOUT_S, details_prefix="page_token")


class UpdateTest(RpcAsserts):
    def test_update_with_current_version_then_stale(self):
        created = submit(rich_postmortem()).postmortem
        changed = pm.Postmortem()
        changed.CopyFrom(created)
        changed.title = "Payments API 5xx: pool exhaustion (revised)"
        changed.tags.append("revised")
        updated = stub().UpdatePostmortem(
            svc.UpdatePostmortemRequest(postmortem=changed, expected_version=1),
            timeout=RPC_TIMEOUT_S)
        self.assertEqual(updated.id, created.id)
        self.assertEqual(updated.version, 2)
        self.assertEqual(updated.title, changed.title)
        self.assertEqual([a.id for a in updated.action_items],
                         [a.id for a in created.action_items],
                         "action item ids are stable across updates")
        got = get(created.id)
        self.assertEqual(got.version, 2)
        self.assertEqual(content(got), content(changed))

        stale = pm.Postmortem()
        stale.CopyFrom(created)
        stale.title = "A stale writer's title"
        self.assertRpcError(
            grpc.StatusCode.ABORTED, stub().UpdatePostmortem,
            svc.UpdatePostmortemRequest(postmortem=stale, expected_version=1),
            timeout=RPC_TIMEOUT_S)
        after = get(created.id)
        self.assertEqual(after.version, 2, "a stale update changes nothing")
        self.assertEqual(after.title, changed.title)
        self.assertEqual(content(after), content(changed))

    def test_update_invalid_content_changes_nothing(self):
        created = submit(minimal_postmortem()).postmortem
        bad = pm.Postmortem()
        bad.CopyFrom(created)
        bad.title = ""
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub().UpdatePostmortem,
            svc.UpdatePostmortemRequest(postmortem=bad, expected_version=1),
            timeout=RPC_TIMEOUT_S, details_prefix="postmortem.title")
        self.assertEqual(get(created.id).version, 1)

    def test_update_unknown_id_is_not_found(self):
        created = submit(minimal_postmortem()).postmortem
        ghost = pm.Postmortem()
        ghost.CopyFrom(created)
        ghost.id = same_shape_other_id(created.id)
        self.assertRpcError(
            grpc.StatusCode.NOT_FOUND, stub().UpdatePostmortem,
            svc.UpdatePostmortemRequest(postmortem=ghost, expected_version=1),
            timeout=RPC_TIMEOUT_S)


class ActionItemTest(RpcAsserts):
    def update_item(self, **kwargs):
        return stub().UpdateActionItem(svc.UpdateActionItemRequest(**kwargs),
                                       timeout=RPC_TIMEOUT_S)

    def test_status_and_owner_changes_are_recorded(self):
        created = submit(rich_postmortem()).postmortem
        item = created.action_items[0]
        self.assertEqual(item.status, pm.ActionItem.OPEN)

        done = self.update_item(postmortem_id=created.id, action_item_id=item.id,
                                status=pm.ActionItem.DONE)
        self.assertEqual(done.id, item.id)
        self.assertEqual(done.status, pm.ActionItem.DONE)
        self.assertEqual(done.owner, "alice", "owner unchanged when unset")
        self.assertEqual(done.due_date, "2024-04-01", "due date unchanged")
        self.assertGreater(done.completed_at.seconds, 0,
                           "completed_at is set when DONE")
        status_changes = [h for h in done.history if h.field == "status"]
        self.assertEqual(len(status_changes), 1, done.history)
        ch = status_changes[0]
        self.assertGreater(ch.at.seconds, 0, "the change has a time")
        self.assertIn("OPEN", ch.old_value.upper())
        self.assertIn("DONE", ch.new_value.upper())

        moved = self.update_item(postmortem_id=created.id,
                                 action_item_id=item.id, owner="carol")
        self.assertEqual(moved.owner, "carol")
        self.assertEqual(moved.status, pm.ActionItem.DONE)
        owner_changes = [h for h in moved.history if h.field == "owner"]
        self.assertEqual(len(owner_changes), 1, moved.history)
        self.assertEqual(owner_changes[0].old_value, "alice")
        self.assertEqual(owner_changes[0].new_value, "carol")
        self.assertGreater(owner_changes[0].at.seconds, 0)
        self.assertEqual(len([h for h in moved.history if h.field == "status"]),
                         1, "earlier history is kept")

        got = get(created.id)
        stored = [a for a in got.action_items if a.id == item.id]
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0].status, pm.ActionItem.DONE)
        self.assertEqual(stored[0].owner, "carol")
        self.assertEqual(sorted(h.field for h in stored[0].history),
                         ["owner", "status"])
        other = [a for a in got.action_items if a.id != item.id][0]
        self.assertEqual(other.owner, "team-payments", "other item untouched")
        self.assertGreater(got.version, created.version,
                           "version grows with every change")

    def test_due_date_change_and_clear(self):
        created = submit(rich_postmortem()).postmortem
        item = created.action_items[1]
        r = self.update_item(postmortem_id=created.id, action_item_id=item.id,
                             due_date="2024-06-30")
        self.assertEqual(r.due_date, "2024-06-30")
        r = self.update_item(postmortem_id=created.id, action_item_id=item.id,
                             due_date="")
        self.assertEqual(r.due_date, "")
        self.assertEqual(len([h for h in r.history if h.field == "due_date"]), 2)

    def test_bad_action_item_updates(self):
        created = submit(rich_postmortem()).postmortem
        item = created.action_items[0]
        self.assertRpcError(
            grpc.StatusCode.NOT_FOUND, self.update_item,
            postmortem_id=created.id,
            action_item_id=same_shape_other_id(item.id),
            status=pm.ActionItem.DONE)
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, self.update_item,
            postmortem_id=created.id, action_item_id=item.id,
            owner="alice, bob", details_prefix="owner")
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, self.update_item,
            postmortem_id=created.id, action_item_id=item.id,
            due_date="next tuesday", details_prefix="due_date")
        self.assertEqual(get(created.id).action_items[0].owner, "alice")


class DeleteTest(RpcAsserts):
    def test_delete_hides_from_get_and_list(self):
        team = "e2e-del-" + suffix()
        keep = submit(minimal_postmortem(team=team, title="Kept")).postmortem
        gone = submit(minimal_postmortem(team=team, title="Deleted",
                                         started_at=ts(BASE_TIME + 60))).postmortem
        self.assertEqual(sorted(list_ids(team=team)), sorted([keep.id, gone.id]))

        # Wrong expected_version: ABORTED, nothing deleted.
        self.assertRpcError(
            grpc.StatusCode.ABORTED, stub().DeletePostmortem,
            svc.DeletePostmortemRequest(id=gone.id, expected_version=7),
            timeout=RPC_TIMEOUT_S)
        self.assertEqual(get(gone.id).id, gone.id)

        stub().DeletePostmortem(svc.DeletePostmortemRequest(id=gone.id),
                                timeout=RPC_TIMEOUT_S)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, get, gone.id)
        self.assertEqual(list_ids(team=team), [keep.id])
        self.assertRpcError(
            grpc.StatusCode.NOT_FOUND, stub().DeletePostmortem,
            svc.DeletePostmortemRequest(id=gone.id), timeout=RPC_TIMEOUT_S)


class IdempotencyTest(RpcAsserts):
    def test_retry_with_same_request_id_replays(self):
        p = minimal_postmortem()
        rid = str(uuid.uuid4())
        first = submit(p, request_id=rid)
        self.assertFalse(first.replayed)
        again = submit(p, request_id=rid)
        self.assertTrue(again.replayed)
        self.assertEqual(again.postmortem.id, first.postmortem.id)
        self.assertEqual(again.postmortem.version, 1)
        self.assertEqual(list_ids(team=p.team), [first.postmortem.id])

    def test_same_request_id_other_content_fails_precondition(self):
        p = minimal_postmortem()
        rid = str(uuid.uuid4())
        first = submit(p, request_id=rid)
        other = pm.Postmortem()
        other.CopyFrom(p)
        other.title = "Something else entirely"
        self.assertRpcError(grpc.StatusCode.FAILED_PRECONDITION, submit, other,
                            request_id=rid)
        self.assertEqual(list_ids(team=p.team), [first.postmortem.id])
        self.assertEqual(get(first.postmortem.id).title, p.title)

    def test_concurrent_duplicates_create_one(self):
        p = minimal_postmortem(team="e2e-race-" + suffix())
        rid = str(uuid.uuid4())
        n = 8
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(k):
            barrier.wait()
            # dejad's thread pool is bounded: calls beyond it get
            # RESOURCE_EXHAUSTED, which a client retries with backoff, with
            # the same request_id (docs/operations.md, --threads).
            for attempt in range(50):
                try:
                    results[k] = submit(p, request_id=rid)
                    return
                except grpc.RpcError as e:
                    results[k] = e
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        return
                    time.sleep(0.02 * (attempt + 1))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=2 * RPC_TIMEOUT_S)
        errors = [(r.code(), r.details()) for r in results
                  if isinstance(r, grpc.RpcError)]
        self.assertEqual(errors, [], "every duplicate gets an answer")
        ids = {r.postmortem.id for r in results}
        self.assertEqual(len(ids), 1, "all duplicates answer with one id")
        self.assertEqual(list_ids(team=p.team), list(ids),
                         "exactly one postmortem exists")
        self.assertEqual(sum(1 for r in results if not r.replayed), 1,
                         "exactly one answer is not a replay")

    def test_request_id_too_long(self):
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, submit,
                            minimal_postmortem(), request_id="r" * 129,
                            details_prefix="request_id")


class ValidationTest(RpcAsserts):
    def assertRejected(self, p, path, request_id=""):
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, submit, p,
                            request_id=request_id, details_prefix=path)
        self.assertEqual(list_ids(team=p.team), [], "nothing is written")

    def test_missing_title(self):
        self.assertRejected(minimal_postmortem(title=""), "postmortem.title")

    def test_no_services(self):
        self.assertRejected(minimal_postmortem(services=[]),
                            "postmortem.services")

    def test_missing_team_summary_severity_start(self):
        p = minimal_postmortem()
        p.summary = ""
        self.assertRejected(p, "postmortem.summary")
        p = minimal_postmortem()
        p.severity = pm.SEVERITY_UNSPECIFIED
        self.assertRejected(p, "postmortem.severity")
        p = minimal_postmortem()
        p.ClearField("started_at")
        self.assertRejected(p, "postmortem.started_at")
        p = minimal_postmortem()
        p.team = ""
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, submit, p,
                            details_prefix="postmortem.team")

    def test_two_owners_in_one_action_item(self):
        p = minimal_postmortem()
        p.action_items.add(description="Add alert", owner="alice, bob",
                           status=pm.ActionItem.OPEN, kind=pm.ActionItem.DETECT)
        self.assertRejected(p, "postmortem.action_items[0].owner")

    def test_missing_owner_in_second_action_item(self):
        p = minimal_postmortem()
        p.action_items.add(description="Add alert", owner="alice")
        p.action_items.add(description="Fix pool", owner="")
        self.assertRejected(p, "postmortem.action_items[1].owner")

    def test_nul_byte_in_summary(self):
        self.assertRejected(minimal_postmortem(summary="before\x00after"),
                            "postmortem.summary")

    def test_oversized_title(self):
        self.assertRejected(minimal_postmortem(title="x" * 10000),
                            "postmortem.title")

    def test_oversized_log_line(self):
        self.assertRejected(minimal_postmortem(log_lines=["e" * 5000]),
                            "postmortem.log_lines[0]")

    def test_unknown_enum_value(self):
        p = minimal_postmortem()
        p.severity = 99  # proto3 open enums keep unknown values
        self.assertEqual(p.severity, 99)
        self.assertRejected(p, "postmortem.severity")

    def test_unknown_nested_enum_value(self):
        p = minimal_postmortem()
        p.root_causes.add(category=77, description="?")
        self.assertRejected(p, "postmortem.root_causes[0].category")

    def test_detected_before_started(self):
        p = minimal_postmortem()
        p.detected_at.seconds = BASE_TIME - 3600
        self.assertRejected(p, "postmortem.detected_at")

    def test_resolved_before_mitigated(self):
        p = minimal_postmortem()
        p.mitigated_at.seconds = BASE_TIME + 7200
        p.resolved_at.seconds = BASE_TIME + 3600
        self.assertRejected(p, "postmortem.resolved_at")

    def test_bad_due_date(self):
        p = minimal_postmortem()
        p.action_items.add(description="Fix", owner="alice",
                           due_date="2024-13-45")
        self.assertRejected(p, "postmortem.action_items[0].due_date")

    def test_missing_postmortem(self):
        self.assertRpcError(
            grpc.StatusCode.INVALID_ARGUMENT, stub().SubmitPostmortem,
            svc.SubmitPostmortemRequest(request_id=""), timeout=RPC_TIMEOUT_S,
            details_prefix="postmortem")

    def raw_submit(self, payload):
        call = channel().unary_unary(
            "/deja.v1.PostmortemService/SubmitPostmortem",
            request_serializer=lambda b: b,
            response_deserializer=svc.SubmitPostmortemResponse.FromString)
        return call(payload, timeout=RPC_TIMEOUT_S)

    def patched_request(self, p):
        raw = svc.SubmitPostmortemRequest(postmortem=p).SerializeToString()
        self.assertEqual(raw.count(b"ZZZZZZZZ"), 1)
        return raw.replace(b"ZZZZZZZZ", b"\xff\xfe\xc3(\xe2\x82\xf0\x9f")

    def test_invalid_utf8_title_via_raw_bytes(self):
        p = minimal_postmortem(title="ZZZZZZZZ")
        raw = self.patched_request(p)
        with self.assertRaises(UnicodeDecodeError):
            raw.decode("utf-8")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.raw_submit,
                            raw, details_prefix="postmortem.title")
        self.assertEqual(list_ids(team=p.team), [])

    def test_invalid_utf8_nested_field_via_raw_bytes(self):
        p = minimal_postmortem()
        p.action_items.add(description="Fix", owner="alice")
        p.action_items.add(description="Alert", owner="ZZZZZZZZ")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.raw_submit,
                            self.patched_request(p),
                            details_prefix="postmortem.action_items[1].owner")
        self.assertEqual(list_ids(team=p.team), [])

    def test_raw_bytes_valid_request_works(self):
        # The raw path itself is sound: the same request unpatched succeeds.
        p = minimal_postmortem(title="ZZZZZZZZ")
        raw = svc.SubmitPostmortemRequest(postmortem=p).SerializeToString()
        resp = self.raw_submit(raw)
        self.assertEqual(resp.postmortem.title, "ZZZZZZZZ")


class PlatformTest(RpcAsserts):
    def test_health_check_serving(self):
        try:
            from grpc_health.v1 import health_pb2, health_pb2_grpc
        except ImportError:
            health_pb2 = None
        if health_pb2 is not None:
            resp = health_pb2_grpc.HealthStub(channel()).Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=RPC_TIMEOUT_S)
            self.assertEqual(resp.status,
                             health_pb2.HealthCheckResponse.SERVING)
            return
        check = channel().unary_unary("/grpc.health.v1.Health/Check",
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        # HealthCheckRequest{service: ""} is empty; the response's field 1
        # (status) is SERVING = 1, i.e. b"\x08\x01".
        self.assertEqual(check(b"", timeout=RPC_TIMEOUT_S), b"\x08\x01")

    def test_server_reflection_lists_the_service(self):
        info = channel().stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        # ServerReflectionRequest{list_services: ""}: field 7, length 0.
        responses = list(info(iter([b":\x00"]), timeout=RPC_TIMEOUT_S))
        self.assertEqual(len(responses), 1)
        self.assertIn(b"deja.v1.PostmortemService", responses[0])
        self.assertIn(b"grpc.health.v1.Health", responses[0])


class ZzRestartTest(RpcAsserts):
    """Runs last (classes run in name order): restarts the module's dejad."""

    def test_data_survives_restart(self):
        team = "e2e-restart-" + suffix()
        sent, before = [], []
        for n in range(3):
            p = rich_postmortem(team=team)
            p.started_at.seconds = BASE_TIME + n * 3600
            for f in ("detected_at", "mitigated_at", "resolved_at"):
                p.ClearField(f)
            sent.append(p)
            before.append(submit(p, request_id="restart-%s-%d" % (team, n))
                          .postmortem)
        item = before[0].action_items[0]
        stub().UpdateActionItem(svc.UpdateActionItemRequest(
            postmortem_id=before[0].id, action_item_id=item.id,
            status=pm.ActionItem.DONE), timeout=RPC_TIMEOUT_S)
        snapshot = {p.id: get(p.id) for p in before}
        listed = list_ids(team=team)
        self.assertEqual(len(listed), 3)
        old_address = SERVER.address

        SERVER.restart()
        old = _channels.pop(old_address, None)
        if old is not None:
            old.close()

        self.assertEqual(list_ids(team=team), listed)
        for pid, want in snapshot.items():
            self.assertEqual(get(pid), want)
        # Idempotency keys survive too.
        again = submit(sent[1], request_id="restart-%s-1" % team)
        self.assertTrue(again.replayed)
        self.assertEqual(again.postmortem.id, before[1].id)
        self.assertEqual(len(list_ids(team=team)), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
