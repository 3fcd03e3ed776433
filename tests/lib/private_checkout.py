"""The regression check of tests that drop privileges (tests/lib/asuser.py):
runs every test marked @drops_privileges once more from a copy of the
checkout inside a fresh 0700 folder (in a folder whose name has a space, as
"My Projects" would), as a user's private clone would be,
with TMPDIR a 0700 folder too, so that a test handing the unprivileged user a
path in the checkout (or in TMPDIR) fails here whatever folder the real
checkout sits in.

    python3 tests/lib/private_checkout.py BUILD_DIR     (scripts/test.sh: build)

The copy holds the checkout's files as they are in the working tree (git's
tracked and untracked-but-not-ignored files; without git, everything but
build*/ and .git/), plus the build outputs the tests name in their CTest
environment (WF2SQLITE_BIN, COMPASS_EMU_BIN, ...), at the same relative
places: nothing is rebuilt. Which tests: from `ctest --show-only=json-v1`,
every `python3 -m unittest MODULE` test whose file marks a test
@drops_privileges, with its CTest environment and working folder moved into
the copy; asuser.py runs only the marked tests of each. The folder is
removed at the end, whatever happens. Standard library only.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def checkout_files():
    """Paths (relative to ROOT) of the working tree's files."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top, dirs, names in os.walk(ROOT):
            if top == ROOT:
                dirs[:] = [d for d in dirs if not d.startswith("build") and d != ".git"]
            files += [os.path.relpath(os.path.join(top, n), ROOT) for n in names]
        return files


def copy_file(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst, follow_symlinks=False)


def marked_tests(build):
    """(name, python, module, cwd, env list) of each CTest test whose module marks a
    test @drops_privileges."""
    out = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                         capture_output=True, text=True, check=True).stdout
    found = []
    for t in json.loads(out)["tests"]:
        cmd = t.get("command") or []
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        cwd = props.get("WORKING_DIRECTORY")
        if len(cmd) < 4 or cmd[1:3] != ["-m", "unittest"] or not cwd:
            continue
        module = cmd[-1]
        src = os.path.join(cwd, module + ".py")
        if not os.path.exists(src):
            continue
        with open(src) as f:
            if "@drops_privileges" not in f.read():
                continue
        found.append((t["name"], cmd[0], module, cwd, props.get("ENVIRONMENT", [])))
    return found


def main(argv):
    if len(argv) != 2:
        print("usage: python3 tests/lib/private_checkout.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.realpath(argv[1])
    tests = marked_tests(build)
    if not tests:
        print("private_checkout.py: no CTest test has a test marked @drops_privileges",
              file=sys.stderr)
        return 1
    t0 = time.time()
    priv = tempfile.mkdtemp(prefix="wf-private-")  # mode 0700
    try:
        clone = os.path.join(priv, "a clone")  # a space too, as in "My Projects"
        outside = os.path.join(priv, "build")  # the build tree, when not in the checkout
        for rel in checkout_files():
            if os.path.lexists(os.path.join(ROOT, rel)):
                copy_file(os.path.join(ROOT, rel), os.path.join(clone, rel))
        tmp = os.path.join(priv, "tmp")
        os.mkdir(tmp, 0o700)

        def move(path):
            """path's place in the copy, copying a file of the build tree there."""
            real = os.path.realpath(path)
            for top, new in ((build, outside), (ROOT, clone)):
                if real == top or real.startswith(top + os.sep):
                    if top == build and build.startswith(ROOT + os.sep):
                        continue  # the checkout's own build folder: moved with it
                    moved = new + real[len(top):]
                    if os.path.isfile(real) and not os.path.exists(moved):
                        copy_file(real, moved)
                    return moved
            return path

        failed = []
        for name, python, module, cwd, env_list in tests:
            env = dict(os.environ, TMPDIR=tmp)
            for item in env_list:
                k, _, v = item.partition("=")
                env[k] = move(v) if os.path.isabs(v) else v
            here = move(cwd)
            print("== %s (marked tests, from %s)" % (name, here), flush=True)
            rc = subprocess.run([python, os.path.join(clone, "tests", "lib", "asuser.py"),
                                 module], cwd=here, env=env, timeout=600).returncode
            if rc != 0:
                failed.append(name)
    finally:
        shutil.rmtree(priv, ignore_errors=True)
    if failed:
        print("private_checkout.py: failed from a checkout in a 0700 folder: %s"
              % " ".join(failed), file=sys.stderr)
        return 1
    print("private_checkout.py: %d test files, marked tests passed from a checkout in a 0700"
          " folder (%.0f s)" % (len(tests), time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
