"""Runs the real dejad for the end-to-end tests.

    server = DejadProcess()          # binary from $DEJAD
    server.start()                   # fresh data dir, --listen 127.0.0.1:0
    server.address                   # "127.0.0.1:PORT"
    server.restart()                 # stop, then start on the same data dir
    server.stop()                    # SIGTERM, asserts a clean exit
    server.terminate(); ...; server.wait_stopped()   # the same, in two steps
    server.cleanup()                 # stop if running, remove the temp dirs

One dejad per test module (setUpModule / tearDownModule): starting one
initialises a PostgreSQL cluster, which takes a few seconds.
"""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 60
_LISTENING = re.compile(r"^dejad listening on (127\.0\.0\.1:(\d+))$")


def env_path(name):
    """The path in environment variable `name`; fails clearly when unset."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            "%s is not set; run the e2e tests through ctest (label e2e), "
            "or set DEJAD, DEJA, DEJA_PY_GEN and DEJA_SAMPLES" % name)
    return value


def import_generated():
    """Puts the generated deja.v1 Python modules on sys.path."""
    gen = env_path("DEJA_PY_GEN")
    if not os.path.isfile(os.path.join(gen, "deja", "v1", "postmortem_pb2.py")):
        raise RuntimeError("no generated Python stubs under %s; build the "
                           "deja_e2e_python_gen target" % gen)
    if gen not in sys.path:
        sys.path.insert(0, gen)


class DejadError(AssertionError):
    pass


def _processes_using(directory):
    """(pid, command line) of processes (other than ours) whose command line
    names `directory` or whose working directory is inside it (PostgreSQL's
    processes chdir to their cluster and retitle themselves)."""
    found = []
    me = os.getpid()
    real = os.path.realpath(directory)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if not cmdline:
            continue  # kernel thread or zombie
        try:
            cwd = os.readlink("/proc/%s/cwd" % entry)
        except OSError:
            cwd = ""
        if (directory in cmdline or real in cmdline
                or cwd == real or cwd.startswith(real + "/")):
            found.append((int(entry), cmdline.strip()))
    return found


class DejadProcess:
    def __init__(self, binary=None, extra_args=()):
        self.binary = binary or env_path("DEJAD")
        self.extra_args = list(extra_args)
        self.data_dir = tempfile.mkdtemp(prefix="deja-e2e-data-")
        self._log_dir = tempfile.mkdtemp(prefix="deja-e2e-log-")
        if os.geteuid() == 0:
            # dejad runs PostgreSQL as an unprivileged user, who must be able
            # to reach the cluster under the data dir.
            os.chmod(self.data_dir, 0o755)
        self.proc = None
        self.address = None
        self.port = None
        self.starts = 0
        self._stdout_lines = []
        self._lines = None
        self._stderr_path = None
        self._reader = None

    # ---- lifecycle -------------------------------------------------------
    def start(self):
        assert self.proc is None, "dejad already running"
        self.starts += 1
        self._stderr_path = os.path.join(self._log_dir,
                                         "dejad-%d.stderr" % self.starts)
        stderr = open(self._stderr_path, "wb")
        argv = [self.binary, "--listen", "127.0.0.1:0",
                "--data-dir", self.data_dir] + self.extra_args
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=stderr)
        finally:
            stderr.close()
        self._stdout_lines = []
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout,
                                        args=(self.proc, self._lines),
                                        daemon=True)
        self._reader.start()

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._abort()
                raise DejadError("dejad printed no 'listening on' line within "
                                 "%d s\n%s" % (START_TIMEOUT_S, self._diag()))
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:  # stdout closed: dejad exited
                code = self.proc.wait(timeout=10)
                self.proc = None
                raise DejadError("dejad exited with %s before listening\n%s"
                                 % (code, self._diag()))
            m = _LISTENING.match(line)
            if m:
                self.address = m.group(1)
                self.port = int(m.group(2))
                if self.port == 0:
                    self._abort()
                    raise DejadError("dejad reported port 0: %r" % line)
                return self
            # Any other stdout line before it breaks the contract.
            self._abort()
            raise DejadError("unexpected stdout line from dejad: %r\n%s"
                             % (line, self._diag()))

    def stop(self, check=True):
        """SIGTERM and wait. With `check`, asserts exit code 0, exactly one
        stdout line, and that no process still uses the data dir."""
        if self.proc is None:
            return
        self.terminate()
        return self.wait_stopped(check=check)

    def terminate(self):
        """Sends SIGTERM and returns at once (dejad starts draining)."""
        assert self.proc is not None, "dejad not running"
        self.proc.send_signal(signal.SIGTERM)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def postgres_socket_dir(self):
        """The embedded PostgreSQL's socket directory, as dejad logged it."""
        m = re.search(r"postgres started in .*, socket ([^\s,]+)",
                      self.stderr_text(tail=1 << 20))
        return m.group(1) if m else os.path.join(self.data_dir, "run")

    def postgres_pid(self):
        """The embedded postmaster's pid, as dejad logged it, or None."""
        m = re.search(r"postgres started in [^:]*: pid (\d+)",
                      self.stderr_text(tail=1 << 20))
        return int(m.group(1)) if m else None

    def wait_stopped(self, check=True):
        """Waits for the exit after terminate(); checks as stop() does."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise DejadError("dejad did not exit within %d s of SIGTERM\n%s"
                             % (STOP_TIMEOUT_S, self._diag()))
        self._reader.join(timeout=5)
        self.address = None
        leftovers = self._leftover_processes()
        if not check:
            self._kill(leftovers)
            return code
        problems = []
        if code != 0:
            problems.append("dejad exited with %s after SIGTERM (want 0)" % code)
        if len(self._stdout_lines) != 1:
            problems.append("dejad printed %d stdout lines (want exactly 1): %r"
                            % (len(self._stdout_lines), self._stdout_lines))
        if leftovers:
            problems.append("processes still using %s after dejad exited: %s"
                            % (self.data_dir, leftovers))
            self._kill(leftovers)
        if problems:
            raise DejadError("\n".join(problems) + "\n" + self._diag())
        return code

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        try:
            if self.proc is not None:
                self.stop(check=False)
        finally:
            self._kill(self._leftover_processes())
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(self._log_dir, ignore_errors=True)

    # ---- diagnostics -----------------------------------------------------
    def stderr_text(self, tail=8000):
        if not self._stderr_path or not os.path.exists(self._stderr_path):
            return ""
        with open(self._stderr_path, "rb") as f:
            data = f.read()
        return data[-tail:].decode("utf-8", "replace")

    def _diag(self):
        return "---- dejad stderr (tail) ----\n%s\n---- end ----" % self.stderr_text()

    # ---- internals -------------------------------------------------------
    def _read_stdout(self, proc, lines):
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._stdout_lines.append(line)
            lines.put(line)
        proc.stdout.close()
        lines.put(None)

    def _leftover_processes(self):
        # A postgres left behind by dejad (grace period: the postmaster may be
        # finishing its shutdown as dejad returns).
        deadline = time.monotonic() + 5
        while True:
            left = _processes_using(self.data_dir)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    @staticmethod
    def _kill(pids):
        for pid, _ in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def _abort(self):
        if self.proc is not None:
            proc, self.proc = self.proc, None
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._kill(self._leftover_processes())


def start_module_server():
    """A started dejad for one test module (setUpModule); cleans up on failure."""
    server = DejadProcess()
    try:
        server.start()
    except BaseException:
        server.cleanup()
        raise
    return server


def stop_module_server(server):
    """Stops (checking a clean exit) and removes what start_module_server made."""
    if server is None:
        return
    try:
        if server.proc is not None:
            server.stop()
    finally:
        server.cleanup()
