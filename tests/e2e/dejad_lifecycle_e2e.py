"""End-to-end: dejad's own lifecycle. Health at start, the graceful drain on
SIGTERM (a call held up by a row lock finishes, dejad exits 0, PostgreSQL is
gone), and startup failures that must name their fix.

The row lock is taken with psql (postgresql-client, which comes with
postgresql-15) over the embedded cluster's Unix socket; as root, as the
`postgres` user that owns the socket.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import grpc

import dejad_process

dejad_process.import_generated()

from google.protobuf import timestamp_pb2  # noqa: E402
from deja.v1 import postmortem_pb2 as pm  # noqa: E402
from deja.v1 import postmortem_service_pb2 as svc  # noqa: E402
from deja.v1 import postmortem_service_pb2_grpc as svc_grpc  # noqa: E402

RPC_TIMEOUT_S = 30
SERVER = None
LOCKER_APP = "deja-e2e-locker"

# grpc.health.v1 by hand: HealthCheckResponse{status} is field 1, varint.
SERVING = b"\x08\x01"
NOT_SERVING = b"\x08\x02"


def setUpModule():
    global SERVER
    SERVER = dejad_process.start_module_server()


def tearDownModule():
    if SERVER is not None:
        SERVER.cleanup()


def health_request(service):
    name = service.encode()
    return b"\x0a" + bytes([len(name)]) + name if name else b""


def health_check(channel, service, timeout=RPC_TIMEOUT_S):
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    return check(health_request(service), timeout=timeout)


def as_postgres(argv):
    """dejad runs PostgreSQL as `postgres` when it is root; the socket admits
    only that user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def conninfo(application_name="deja-e2e"):
    return ("host=%s dbname=deja user=postgres application_name=%s"
            % (SERVER.postgres_socket_dir(), application_name))


def sql(query):
    """One query through psql; its unaligned output."""
    out = subprocess.run(
        as_postgres(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                     conninfo(), "-c", query]),
        stdin=subprocess.DEVNULL, capture_output=True, cwd="/", timeout=30)
    if out.returncode != 0:
        raise AssertionError("psql failed (%d): %s"
                             % (out.returncode, out.stderr.decode()))
    return out.stdout.decode().strip()


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class HealthTest(unittest.TestCase):
    def test_serving_at_start_for_server_and_service(self):
        with grpc.insecure_channel(SERVER.address) as ch:
            for service in ("", "deja.v1.PostmortemService"):
                with self.subTest(service=service):
                    self.assertEqual(health_check(ch, service), SERVING)

    def test_unknown_service_is_not_found(self):
        with grpc.insecure_channel(SERVER.address) as ch:
            with self.assertRaises(grpc.RpcError) as cm:
                health_check(ch, "deja.v1.NoSuchService")
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)


class ZzDrainTest(unittest.TestCase):
    """Runs last (classes run in name order): stops the module's dejad."""

    def setUp(self):
        if shutil.which("psql") is None:
            self.fail("psql not found; install postgresql-client (it comes "
                      "with postgresql-15)")
        self.locker = None

    def tearDown(self):
        if self.locker is not None and self.locker.poll() is None:
            self.locker.kill()
            self.locker.wait()

    def test_sigterm_lets_the_call_in_flight_finish(self):
        ch = grpc.insecure_channel(SERVER.address)
        self.addCleanup(ch.close)
        stub = svc_grpc.PostmortemServiceStub(ch)
        created = stub.SubmitPostmortem(svc.SubmitPostmortemRequest(
            postmortem=pm.Postmortem(
                team="e2e-drain", title="Drain test", summary="Before.",
                severity=pm.SEV3, services=["checkout"],
                started_at=timestamp_pb2.Timestamp(seconds=1709287200))),
            timeout=RPC_TIMEOUT_S).postmortem
        postgres_pid = SERVER.postgres_pid()
        self.assertIsNotNone(postgres_pid, "dejad logged no postgres pid")

        # Hold the postmortem's row lock from another session.
        self.locker = subprocess.Popen(
            as_postgres(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                         conninfo(LOCKER_APP)]),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, cwd="/")
        self.locker.stdin.write(
            b"BEGIN;\nSELECT id FROM postmortems WHERE id = '%s' FOR UPDATE;\n"
            % created.id.encode())
        self.locker.stdin.flush()
        wait_for("psql to hold the row lock", lambda: sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'%s' AND state = 'idle in transaction'" % LOCKER_APP) == "1")

        # The update waits for that lock inside dejad.
        changed = pm.Postmortem()
        changed.CopyFrom(created)
        changed.summary = "After the drain."
        update = stub.UpdatePostmortem.future(
            svc.UpdatePostmortemRequest(postmortem=changed,
                                        expected_version=created.version),
            timeout=RPC_TIMEOUT_S)
        wait_for("dejad's update to wait for the lock", lambda: sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'deja' "
            "AND wait_event_type = 'Lock'") == "1")

        SERVER.terminate()
        # Health turns NOT_SERVING first, and new calls are refused right
        # after (UNAVAILABLE; CANCELLED for one that arrived as the server
        # shut down), so any of these is right. SERVING is only possible
        # before dejad has taken the signal.
        draining = (NOT_SERVING, grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.CANCELLED)
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                seen.append(health_check(ch, "", timeout=2))
            except grpc.RpcError as e:
                seen.append(e.code())
            if seen[-1] in draining:
                break
            self.assertEqual(seen[-1], SERVING, "health answers: %r" % seen)
            time.sleep(0.01)
        self.assertIn(seen[-1], draining,
                      "health answers after SIGTERM: %r" % seen)
        if os.environ.get("DEJA_E2E_VERBOSE"):
            print("health after SIGTERM: %r" % seen)

        # Draining: dejad waits for the update, which waits for the lock.
        time.sleep(0.5)
        self.assertTrue(SERVER.running(), "dejad exited with a call in flight")
        self.assertFalse(update.done(), "the update did not wait for the lock")

        self.locker.stdin.write(b"COMMIT;\n")
        self.locker.stdin.close()
        self.assertEqual(self.locker.wait(timeout=30), 0,
                         self.locker.stderr.read().decode())

        updated = update.result(timeout=RPC_TIMEOUT_S)
        self.assertEqual(updated.version, created.version + 1)
        self.assertEqual(updated.summary, "After the drain.")

        # Exit 0, one stdout line, nothing left running in the data dir.
        self.assertEqual(SERVER.wait_stopped(), 0)
        self.assertIn("dejad: stopped", SERVER.stderr_text())
        self.assertFalse(os.path.exists("/proc/%d" % postgres_pid),
                         "postgres pid %d still exists" % postgres_pid)


class StartupFailureTest(unittest.TestCase):
    """dejad runs that must stop before PostgreSQL starts."""

    def run_dejad(self, data_dir):
        out = subprocess.run(
            [dejad_process.env_path("DEJAD"), "--listen", "127.0.0.1:0",
             "--data-dir", data_dir],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 1, out.stderr.decode())
        self.assertEqual(out.stdout, b"", "no listening line")
        return out.stderr.decode()

    def scratch_dir(self):
        d = tempfile.mkdtemp(prefix="deja-e2e-startup-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d

    def test_missing_parent_of_data_dir(self):
        parent = os.path.join(self.scratch_dir(), "no", "such")
        stderr = self.run_dejad(os.path.join(parent, "data"))
        self.assertIn("startup failed: --data-dir %s/data: parent directory "
                      "%s does not exist" % (parent, parent), stderr)
        self.assertFalse(os.path.exists(os.path.dirname(parent)),
                         "dejad created parents of the data dir")

    def test_as_root_a_parent_postgres_cannot_enter(self):
        if os.geteuid() != 0:
            self.skipTest("only root runs PostgreSQL as another user")
        locked = self.scratch_dir()  # mkdtemp: mode 0700, owned by root
        stderr = self.run_dejad(os.path.join(locked, "data"))
        self.assertIn("who cannot enter %s (mode 0700)" % locked, stderr)
        self.assertIn("e.g. under /var/lib/deja", stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
