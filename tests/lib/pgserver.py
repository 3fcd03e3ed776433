"""A real PostgreSQL server for the tests (SPEC 16): Debian's postgresql
package (server 15), started by the test itself in a temporary folder as an
unprivileged user, and stopped at the end, also when a test fails.

    from pgserver import PgServer
    def setUpModule():
        global PG
        PG = PgServer.start()          # once per test module (about 1 s)
    def tearDownModule():
        PG.stop()

    db = PG.create_db()                # a fresh database per test
    uri = PG.uri(db)                   # postgresql://wf@/DB?host=SOCKDIR&port=PORT
    rows = PG.query(db, "SELECT ...")  # a list of tuples of str (None for NULL)

The cluster is made by `initdb --no-sync` in a UserArea (tests/lib/asuser.py)
owned by nobody when we are root (initdb and postgres refuse to run as root),
so it works wherever the checkout lives; every test class using it must be
marked @drops_privileges. The server listens on a free loopback port and on a
socket in that folder; fsync is off (a test cluster, thrown away at the end).
Local (socket) connections are trusted for the superuser `wf`; TCP
connections (127.0.0.1) need a password (scram-sha-256), for the tests of
PGPASSWORD and ~/.pgpass: the role `wf` has the password PgServer.PASSWORD.

PG_BIN (default /usr/lib/postgresql/15/bin) names the server binaries;
PgServer.available() says whether they are there. Standard library only.
"""
import atexit
import os
import signal
import socket
import subprocess
import time

from asuser import UserArea

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PSQL = os.path.join(PG_BIN, "psql")
NULL = "\x01NULL\x01"  # how query() asks psql to print NULL


def free_port():
    """A loopback TCP port free right now (the server may still lose a race
    for it: start() then tries another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    USER = "wf"
    PASSWORD = "pg-test-secret-4711"

    @staticmethod
    def available():
        return all(os.access(os.path.join(PG_BIN, b), os.X_OK)
                   for b in ("initdb", "postgres", "psql"))

    @classmethod
    def start(cls):
        """A new cluster, initialised and running. Raises with the server's
        log when it does not come up."""
        srv = cls()
        try:
            srv._init()
            last = None
            for _ in range(3):
                try:
                    srv._run(free_port())
                    break
                except RuntimeError as e:  # the port was taken meanwhile
                    last = e
            else:
                raise last
        except BaseException:
            srv.stop()
            raise
        return srv

    def __init__(self):
        self.area = UserArea(None, prefix="wfpg-")
        self.data = self.area.own_dir("data")
        self.sock = self.area.own_dir("sock", 0o755)
        self.log = os.path.join(self.area.own_dir("log", 0o755), "postgres.log")
        self.proc = None
        self.port = None
        self._dbs = 0
        atexit.register(self.stop)

    def _init(self):
        pwfile = os.path.join(self.area.path, "pw")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD + "\n")
        os.chmod(pwfile, 0o644)
        p = self.area.run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", self.USER,
                           "--pwfile", pwfile, "--auth-local=trust",
                           "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
                           "--locale=C"], capture_output=True, text=True)
        os.unlink(pwfile)
        if p.returncode != 0:
            raise RuntimeError("initdb failed: " + p.stdout + p.stderr)

    def _run(self, port):
        logf = open(self.log, "a")
        if self.area.dropping:
            os.chown(self.log, self.area.uid, self.area.gid)
        self.proc = self.area.popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-k", self.sock,
             "-p", str(port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=60", "-c", "shared_buffers=32MB"],
            stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        self.port = port
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            ready = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", self.sock,
                                    "-p", str(port), "-U", self.USER, "-d", "postgres"])
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        self._kill()
        with open(self.log) as f:
            raise RuntimeError("postgres did not start on port %d: %s" % (port, f.read()[-2000:]))

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGQUIT)  # immediate
                self.proc.wait(timeout=15)
        self.proc = None

    def stop(self):
        """Stops the server and removes its folder; idempotent."""
        self._kill()
        if self.area:
            self.area.cleanup()
            self.area = None

    def uri(self, db="postgres", tcp=False, user=None):
        """A URI for wf2sqlite: the socket (trusted) by default, or
        127.0.0.1:port (password needed) with tcp=True."""
        user = user or self.USER
        if tcp:
            return "postgresql://%s@127.0.0.1:%d/%s" % (user, self.port, db)
        return "postgresql://%s@/%s?host=%s&port=%d" % (user, db, self.sock, self.port)

    def psql(self, db, sql, check=True, env=None):
        """Runs sql with psql over the socket; returns the CompletedProcess."""
        p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
                            "-p", str(self.port), "-U", self.USER, "-d", db, "-A", "-t",
                            "-F", "\x1f", "-R", "\x1e", "-P", "null=" + NULL, "-c", sql],
                           capture_output=True, text=True, env=env)
        if check and p.returncode != 0:
            raise RuntimeError("psql %r failed: %s" % (sql, p.stderr))
        return p

    def query(self, db, sql):
        """The rows of one statement, as tuples of str (None for NULL)."""
        out = self.psql(db, sql).stdout
        if out.endswith("\n"):
            out = out[:-1]
        rows = []
        for rec in out.split("\x1e"):
            if rec == "":
                continue
            rows.append(tuple(None if v == NULL else v for v in rec.split("\x1f")))
        return rows

    def create_db(self, name=None):
        """A new empty database; returns its name."""
        self._dbs += 1
        name = name or "t%d_%d" % (os.getpid(), self._dbs)
        self.psql("postgres", 'CREATE DATABASE "%s"' % name)
        return name


def pg_env(emu=None, extra=None):
    """wf_env without any PG* variable of ours leaking in."""
    from wfharness import wf_env
    env = wf_env(emu, extra=extra)
    for k in list(env):
        if k.startswith("PG"):
            del env[k]
    if extra:
        env.update(extra)
    return env
