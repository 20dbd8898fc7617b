"""A throwaway dejad for the benchmarks, on the harness of tests/e2e.

    with Dejad(binary) as dejad:     # temp --data-dir, --listen 127.0.0.1:0
        dejad.channel                # grpc channel to it
        dejad.psql(script)           # psql on its embedded PostgreSQL
Stops dejad and removes its data dir on exit, whatever happened.
"""
import os
import subprocess
import sys

from . import stubs

sys.path.insert(0, os.path.join(stubs.REPO, "tests", "e2e"))
import dejad_process  # noqa: E402  (tests/e2e/dejad_process.py)


def default_dejad(build_dir):
    return os.path.join(build_dir, "services", "dejad")


class Dejad:
    def __init__(self, binary, extra_args=()):
        if not os.access(binary, os.X_OK):
            raise RuntimeError("no dejad at %s (build the dejad target, or pass "
                               "--dejad / --build-dir)" % binary)
        self.process = dejad_process.DejadProcess(binary=binary, extra_args=extra_args)
        self.channel = None

    def __enter__(self):
        import grpc
        try:
            self.process.start()
        except BaseException:
            self.process.cleanup()
            raise
        self.channel = grpc.insecure_channel(self.process.address)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        return self

    def __exit__(self, *exc):
        if self.channel is not None:
            self.channel.close()
        try:
            if self.process.proc is not None:
                self.process.stop(check=False)
        finally:
            self.process.cleanup()
        return False

    def conninfo(self, database="deja"):
        # store/embedded_postgres.cc: superuser "postgres", trust over the socket.
        return "host=%s dbname=%s user=postgres" % (self.process.postgres_socket_dir(), database)

    def psql(self, script, database="deja"):
        """Runs a psql script (SQL and meta-commands such as \\copy, given on
        stdin); returns its unaligned, tuples-only, tab-separated output."""
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-F", "\t", self.conninfo(database)],
            input=script, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("psql failed (%d): %s" % (result.returncode, result.stderr.strip()))
        return result.stdout
