"""Running programs as another, unprivileged user from the tests, wherever
the checkout lives.

Root ignores file modes, so a test of "the tool refuses a read-only file"
proves nothing as root: when the suite runs as root (as CI does), such tests
run the program as an unprivileged user, `nobody` (uid 65534) by default.
That user must be able to reach everything it runs and opens, and the
checkout may sit anywhere: in /root (mode 0700), in a 0750 home folder, in a
`mktemp -d` folder (0700). A path inside the checkout or the build tree is
therefore never handed to the unprivileged user; a UserArea is made instead:

    area = UserArea(self)                  # self: the running TestCase
    binary, = area.copy(WF2SQLITE)         # area/bin/wf2sqlite, mode 0755
    conf, = area.copy(fixture, into="etc") # a fixture, mode 0644
    data = area.own_dir("data")            # a folder the user owns, mode 0700
    p = area.run([binary, "run", "w", "--db", db], env=env,
                 capture_output=True, text=True)

UserArea(test, uid=NOBODY, gid=None)
    A temporary folder, mode 0755 and owned by root, in a temporary folder
    root whose every parent the user can search (tempfile.gettempdir() when
    it qualifies, else /tmp, /var/tmp or /dev/shm: TMPDIR may be a private
    0700 folder, as pam_tmpdir makes it). It is removed when the test (or,
    given a TestCase class, the class) ends. gid defaults to the user's
    primary group (65534 for nobody).
area.copy(*paths, into="bin") -> [copies]
    Copies files (executables keep mode 0755, others 0644) or whole folders
    (readable by all) into area/<into>/ and returns the copies' paths. Copy
    every binary the user runs (wf2sqlite, compass-emu, ...) and every fixture
    it reads. A sanitizer build's binary works from a copy: GCC links the
    ASan/UBSan runtimes as shared system libraries (/lib/.../libasan.so),
    clang links them into the binary; wf2sqlite links the project's library
    statically, so no library of the build tree is needed.
area.own_dir(name, mode=0o700) -> path
    A folder area/<name> owned by the user, for what it must write (a
    PostgreSQL data folder, a database folder).
area.kwargs(**kw) -> dict
    subprocess keyword arguments running as the user: user, group,
    extra_groups=[] (no supplementary group of root's) and cwd=area (a
    process as nobody must not start in a folder it cannot enter: initdb and
    postgres call getcwd). Anything in kw overrides. preexec_fn still works
    (it runs after the switch, so it cannot regain privileges).
area.run(argv, **kw), area.popen(argv, **kw)
    subprocess.run / subprocess.Popen with area.kwargs(**kw).
area.dropping
    True when the program really runs as another user (we are root). When
    we are not root there is nobody to switch to and nothing to switch from:
    the area is still made and used, and programs run as ourselves (who
    already cannot write a file of mode 0444).

Every test that uses a UserArea must be marked @drops_privileges (a test
method or a whole TestCase class); UserArea refuses an unmarked test.
scripts/test.sh runs exactly the marked tests once more from a copy of the
checkout inside a 0700 folder (tests/lib/private_checkout.py), so a test that
reaches into the checkout as the unprivileged user fails there. Running this
file runs the marked tests of the named modules from the current folder:

    cd tests/hard && python3 ../lib/asuser.py test_faults_db

Standard library only. See docs/hardening.md, "Tests that drop privileges".
"""
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

NOBODY = 65534


def drops_privileges(obj):
    """Marks a test method or a TestCase class as running programs through a
    UserArea (as another user when we are root)."""
    obj.drops_privileges = True
    return obj


def is_marked(test):
    """Whether a TestCase instance (its method or its class) or a TestCase
    class is marked @drops_privileges."""
    if isinstance(test, type):
        return getattr(test, "drops_privileges", False) is True
    if getattr(type(test), "drops_privileges", False) is True:
        return True
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    return getattr(method, "drops_privileges", False) is True


def can_search(path, uid, gid):
    """Whether uid (primary group gid, no other group) may walk down to path:
    search (x) permission on every folder from / to path itself."""
    if uid == 0:
        return True
    path = os.path.abspath(path)
    parts = [path]
    while parts[-1] != os.path.dirname(parts[-1]):
        parts.append(os.path.dirname(parts[-1]))
    for p in parts:
        try:
            st = os.stat(p)
        except OSError:
            return False
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def reachable_tmp(uid=NOBODY, gid=NOBODY):
    """A folder for temporary files that we can write and uid can reach:
    tempfile.gettempdir() when it qualifies, else the first of /tmp,
    /var/tmp, /dev/shm that does."""
    for d in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK) and can_search(d, uid, gid):
            return d
    raise RuntimeError("no temporary folder that uid %d can reach (TMPDIR=%r)"
                       % (uid, os.environ.get("TMPDIR")))


class UserArea:
    """A temporary folder from which a program runs as another user (see the
    module's docstring)."""

    def __init__(self, test=None, uid=NOBODY, gid=None, prefix="wfuser-"):
        if test is not None and not is_marked(test):
            raise AssertionError(
                "%r runs a program through a UserArea but is not marked @drops_privileges"
                " (tests/lib/asuser.py): mark it so that scripts/test.sh also runs it from"
                " a checkout in a 0700 folder" % (test,))
        self.dropping = os.geteuid() == 0
        if self.dropping:
            if gid is None:
                try:
                    gid = pwd.getpwuid(uid).pw_gid
                except KeyError:
                    gid = uid
            self.uid, self.gid = uid, gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
        self.path = tempfile.mkdtemp(prefix=prefix, dir=reachable_tmp(self.uid, self.gid))
        os.chmod(self.path, 0o755)
        if isinstance(test, type):
            test.addClassCleanup(self.cleanup)
        elif test is not None:
            test.addCleanup(self.cleanup)

    def copy(self, *paths, into="bin"):
        """Copies files or folders into area/<into>/; returns the copies' paths."""
        dest = os.path.join(self.path, into)
        os.makedirs(dest, exist_ok=True)
        os.chmod(dest, 0o755)
        out = []
        for src in paths:
            dst = os.path.join(dest, os.path.basename(os.path.normpath(src)))
            if os.path.isdir(src):
                shutil.copytree(src, dst, symlinks=False)
                for top, dirs, files in os.walk(dst):
                    os.chmod(top, 0o755)
                    for f in files:
                        self._open_file(os.path.join(top, f))
            else:
                shutil.copyfile(src, dst)
                shutil.copymode(src, dst)
                self._open_file(dst)
            out.append(dst)
        return out

    @staticmethod
    def _open_file(path):
        executable = os.stat(path).st_mode & stat.S_IXUSR
        os.chmod(path, 0o755 if executable else 0o644)

    def own_dir(self, name, mode=0o700):
        """A new folder area/<name> owned by the user, with mode."""
        d = os.path.join(self.path, name)
        os.makedirs(d)
        if self.dropping:
            os.chown(d, self.uid, self.gid)
        os.chmod(d, mode)
        return d

    def kwargs(self, **kw):
        """subprocess keyword arguments running as the user from the area."""
        out = {"cwd": self.path}
        if self.dropping:
            out.update(user=self.uid, group=self.gid, extra_groups=[])
        out.update(kw)
        return out

    def run(self, argv, **kw):
        return subprocess.run(argv, **self.kwargs(**kw))

    def popen(self, argv, **kw):
        return subprocess.Popen(argv, **self.kwargs(**kw))

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def marked_tests(suite):
    """The tests of a suite (flattened) marked @drops_privileges."""
    out = []
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.extend(marked_tests(t))
        elif is_marked(t):
            out.append(t)
    return out


def main(modules):
    """Runs the marked tests of the modules (importable from the current
    folder); fails when a module has none."""
    sys.path.insert(0, os.getcwd())
    suite = unittest.TestSuite()
    for name in modules:
        tests = marked_tests(unittest.defaultTestLoader.loadTestsFromName(name))
        if not tests:
            print("asuser.py: %s has no test marked @drops_privileges" % name, file=sys.stderr)
            return 1
        suite.addTests(tests)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python3 asuser.py MODULE...  (runs the tests marked @drops_privileges)",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
