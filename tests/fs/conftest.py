"""Integration tests for the dbxfs mount: a real dbxd on 127.0.0.1 and real
FUSE mounts (root, /dev/fuse).

Run:  /usr/bin/python3 -m pytest tests/fs            (from the repo root)
Binaries: $DBXFS (default build/fs/dbxfs) and $DBXD (default
build/backend/dbxd). $DBX_SANITIZED=1 (an ASan/UBSan build) stretches every
timeout.

Each test gets a fresh account on the shared server (tests that stop dbxd get
a server of their own), and mounts in its pytest tmp dir with their own
cache_dir, token_file and an empty config file, with HOME and XDG_* pointing
into the tmp dir, so nothing reads or writes the real ~/.config or ~/.cache.

Mounts run in the foreground (-f) under the test, so their stderr is kept
(attached to a failure report) and a sanitizer report or crash at unmount
fails the test. tests/fs/test_mount.py covers the daemon form.

A hung mount never hangs the suite: a per-test watchdog (marker
`watchdog(seconds)`, default 120 s, tripled for sanitized builds) kills the
test's dbxfs processes and lazily unmounts them, which makes every pending
file operation fail with ENOTCONN, and the test fails. Finalizers unmount
with fusermount3 -u, then -uz, and kill what is left.
"""
import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from dbxtest import (MiB, REPO, attach_server_logs, log_tail, new_id,  # noqa: E402
                     require_built, serve, sha, wait_started)

DBXFS = os.environ.get("DBXFS", os.path.join(REPO, "build", "fs", "dbxfs"))
SANITIZED = os.environ.get("DBX_SANITIZED", "0") not in ("", "0")
SLOW = 3 if SANITIZED else 1
STATUS_XATTR = "user.dbxfs.status"
ID_XATTR = "user.dbxfs.id"
# dbxd's copies: "(conflicted copy DATE TIME)"; a mount's own add its device
# name (-o device=, the mount's name in these tests) and a count when needed
CONFLICT_RE = r" \(conflicted copy \d{4}-\d{2}-\d{2} \d{6}(?: [^)]+)?\)"


def T(seconds):
    """A timeout, stretched for sanitized builds."""
    return seconds * SLOW


def log(msg):
    """Printed with -s and kept in the report of a failed test."""
    print("[%.3f] %s" % (time.time() % 1000, msg), flush=True)


def require_dbxfs():
    require_built(DBXFS, "dbxfs", "DBXFS")


# --------------------------------------------------------------------------
# bounded operations

class Hung(AssertionError):
    pass


def bounded(fn, *args, timeout=None, what=None, **kw):
    """Runs fn(*args, **kw) in a thread and returns its result, or raises
    Hung after timeout seconds (the thread stays blocked until the watchdog
    or the finalizer kills the mount). Exceptions of fn are re-raised."""
    timeout = timeout if timeout is not None else T(30)
    box = {}

    def run():
        try:
            box["v"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["e"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise Hung("%s did not return within %.0fs (hung mount?)" % (
            what or getattr(fn, "__name__", "operation"), timeout))
    if "e" in box:
        raise box["e"]
    return box.get("v")


def run(cmd, timeout=None, check=True, **kw):
    """subprocess.run with a timeout (a program stuck on the mount is killed
    and the test fails); check=True fails on a non-zero exit with its output."""
    timeout = timeout if timeout is not None else T(120)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    try:
        r = subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise Hung("%s did not finish within %ss\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, cmd)), timeout, _short(e.stdout), _short(e.stderr)))
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, cmd)), r.returncode, _short(r.stdout), _short(r.stderr)))
    return r


def _short(s, n=4000):
    if s is None:
        return ""
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n // 2] + "\n...\n" + s[-n // 2:]


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value (returned) or timeout
    seconds pass (AssertionError naming what). Exceptions from pred count
    as "not yet" until the end, when the last one is reported."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            # each poll is bounded: a hung mount fails the wait (Hung) now
            # instead of blocking until the watchdog
            v = bounded(pred, timeout=T(10), what="a check while waiting for %s" % what)
            if v:
                return v
            last = None
        except Hung:
            raise
        except (OSError, AssertionError, KeyError, ValueError) as e:
            last = e
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (
                timeout, what, " (last error: %r)" % (last,) if last else ""))
        time.sleep(interval)


def is_mounted(path):
    """True if path is a mount point in /proc/self/mountinfo."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ").replace("\\011", "\t") \
                .replace("\\012", "\n").replace("\\134", "\\")
            if mp == path:
                return True
    return False


def mount_conn(path):
    """The FUSE connection number of the mount at path (the minor of its
    device, the name of its /sys/fs/fuse/connections entry), or None."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == path and parts[parts.index("-") + 1].startswith("fuse"):
                major, minor = parts[2].split(":")
                return int(minor) if major == "0" else None
    return None


FUSECTL = "/sys/fs/fuse/connections"


def abort_conn(conn):
    """Aborts FUSE connection conn: every request waiting on it fails with
    ENOTCONN, even when the daemon is stuck in the kernel (a notify that
    waits for an inode lock held by a request waiting for the daemon),
    where SIGKILL alone cannot end it. Mounts fusectl if needed."""
    if conn is None:
        return False
    ctl = os.path.join(FUSECTL, str(conn), "abort")
    if not os.path.exists(ctl) and not os.listdir(FUSECTL):
        subprocess.run(["mount", "-t", "fusectl", "none", FUSECTL], capture_output=True,
                       timeout=10)
    try:
        with open(ctl, "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


def mount_fstype(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == path:
                return parts[parts.index("-") + 1]
    return None


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def fusermount(mnt, lazy=False, timeout=10):
    cmd = ["fusermount3", "-u"] + (["-z"] if lazy else []) + [mnt]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


# --------------------------------------------------------------------------
# files

def write_file(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def sha_file(path, bs=4 * MiB):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bs)
            if not b:
                return h.hexdigest()
            h.update(b)


def write_random(path, size, piece=4 * MiB):
    """Writes size random bytes in pieces; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(piece, left))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


SHARED_NAME = "Shared with me"


def ls(m):
    """A mount's root listing, sorted, without the virtual Shared with me."""
    return sorted(n for n in os.listdir(m.mnt) if n != SHARED_NAME)


def snapshot(root, content=True, dir_mtime=False, xattrs=False):
    """relpath -> tuple describing every node under root (not root itself):
    kind, permission bits, uid, gid, and for files size, mtime_ns and
    sha256, for symlinks the target, for dirs the mtime if dir_mtime."""
    out = {}
    for dp, dns, fns in os.walk(root):
        if dp == root and os.path.ismount(root) and SHARED_NAME in dns:
            dns.remove(SHARED_NAME)        # the virtual directory: not on the server
        for name in sorted(dns + fns):
            p = os.path.join(dp, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            base = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink",) + base + (os.readlink(p),)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",) + base + ((st.st_mtime_ns,) if dir_mtime else ())
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file",) + base + (st.st_size, st.st_mtime_ns,
                                                sha_file(p) if content else None)
            else:
                out[rel] = ("other", st.st_mode)
            if xattrs and not stat.S_ISLNK(st.st_mode):
                xs = {}
                for k in os.listxattr(p):
                    xs[k] = os.getxattr(p, k)
                out[rel] = out[rel] + (tuple(sorted(xs.items())),)
    return out


def diff_snapshots(a, b, an="a", bn="b"):
    """A readable list of differences (empty when equal)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append("only in %s: %s %r" % (bn, k, b[k]))
        elif k not in b:
            out.append("only in %s: %s %r" % (an, k, a[k]))
        elif a[k] != b[k]:
            out.append("differs: %s\n   %s: %r\n   %s: %r" % (k, an, a[k], bn, b[k]))
    return out


def assert_same_tree(a, b, an="a", bn="b"):
    d = diff_snapshots(a, b, an, bn)
    assert not d, "%d differences between %s and %s:\n%s" % (
        len(d), an, bn, "\n".join(d[:40]))


# --------------------------------------------------------------------------
# the server side (dbxd's API as the truth)

class Account:
    """A fresh account on a server, with an API client logged in as it."""

    _n = [0]

    def __init__(self, server, name=None):
        Account._n[0] += 1
        self.server = server
        self.user = name or "fs%d%s" % (Account._n[0], new_id()[:6])
        self.password = "pw-" + new_id()
        server.useradd(self.user, self.password)
        server.users[self.user] = self.password
        self._api = None

    @property
    def api(self):
        """A Client logged in (again, if the server restarted with the
        token still valid the old one keeps working)."""
        if self._api is None or self._api.server is not self.server:
            self._api = self.server.client(self.user, self.password)
        return self._api

    def children(self, nid):
        return self.api.entries(nid)

    def lookup(self, relpath):
        """The server's node at relpath (under the account's root), or None."""
        nid = self.api.root
        node = self.api.node(nid)
        for part in [p for p in relpath.split("/") if p]:
            found = None
            for e in self.children(nid):
                if e["name"] == part:
                    found = e
                    break
            if found is None:
                return None
            node, nid = found, found["id"]
        return node

    def download(self, nid):
        return self.api.download(nid)

    def tree(self, root_id=None):
        """relpath -> node for the whole account (or under root_id)."""
        out = {}

        def walk(nid, prefix):
            for e in self.children(nid):
                rel = prefix + e["name"]
                out[rel] = e
                if e["type"] == "dir":
                    walk(e["id"], rel + "/")

        walk(root_id or self.api.root, "")
        return out

    def snapshot(self, root_id=None, content=True):
        """The server's view in the format of snapshot() (no dir mtimes)."""
        out = {}
        for rel, n in self.tree(root_id).items():
            base = (n["mode"] & 0o7777, n["uid"], n["gid"])
            if n["type"] == "symlink":
                out[rel] = ("symlink",) + base + (n["target"],)
            elif n["type"] == "dir":
                out[rel] = ("dir",) + base
            else:
                digest = None
                if content:
                    data = self.download(n["id"]) if n["size"] else b""
                    digest = sha(data)
                out[rel] = ("file",) + base + (n["size"], n["mtime"] * 10**9 + n["mtime_nsec"],
                                                digest)
        return out


# --------------------------------------------------------------------------
# a mount

_MOUNTS = []    # mounts started by the running test (watchdog, reports)


class Mount:
    """One dbxfs device: a mountpoint, a cache_dir, a token file, an empty
    config file and a 0600 password file, all under workdir/name."""

    def __init__(self, workdir, server, account, name="a", cache_dir=None):
        require_dbxfs()
        self.server = server
        self.account = account
        self.name = name
        self.dir = os.path.join(str(workdir), "dev-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.cache_dir = cache_dir or os.path.join(self.dir, "cache")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        self.token_file = os.path.join(self.dir, "token")
        self.config = os.path.join(self.dir, "config")
        open(self.config, "w").close()
        os.chmod(self.config, 0o600)
        self.password_file = os.path.join(self.dir, "password")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (account.password + "\n").encode())
        os.close(fd)
        os.chmod(self.password_file, 0o600)
        self.proc = None
        self.pid = None
        self.daemon_pid = None
        self.conn = None
        self.log_path = None
        self.mounts = 0

    # --- process
    @property
    def url(self):
        # server_url: the mount reaches dbxd another way (a NetProxy)
        return getattr(self, "server_url", None) or self.server.url

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        e["XDG_CACHE_HOME"] = os.path.join(self.home, ".cache")
        return e

    def opts(self, extra=()):
        o = ["server=" + self.url, "user=" + self.account.user,
             "password_file=" + self.password_file, "cache_dir=" + self.cache_dir,
             "token_file=" + self.token_file, "config=" + self.config,
             "device=" + self.name]
        # DBXFS_TEST_OPTS (e.g. log_level=debug) reaches every mount, to chase a failure
        more = [x for x in os.environ.get("DBXFS_TEST_OPTS", "").split(",") if x]
        return ",".join(o + more + list(extra))

    def mount(self, extra=(), timeout=None):
        """Starts `dbxfs -f -o ... MNT` and waits until the mount is up."""
        timeout = timeout or T(30)
        assert not is_mounted(self.mnt), "%s is already mounted" % self.mnt
        self.mounts += 1
        self.log_path = os.path.join(self.dir, "dbxfs-%d.log" % self.mounts)
        cmd = [DBXFS, "-f", "-o", self.opts(extra), self.mnt]
        self.cmd = cmd
        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     env=self.env(), start_new_session=True)
        logf.close()
        self.pid = self.proc.pid
        if self not in _MOUNTS:
            _MOUNTS.append(self)
        up = wait_started(self.proc, lambda: is_mounted(self.mnt), timeout)
        if up == "exited":
            pytest.fail("dbxfs exited with %s before mounting: %s\n--- its output:\n%s" % (
                self.proc.returncode, " ".join(cmd), self.log_tail()), pytrace=False)
        if up == "late":
            self.abort()
            pytest.fail("dbxfs did not mount within %ss: %s\n--- its output:\n%s" % (
                timeout, " ".join(cmd), self.log_tail()), pytrace=False)
        self.conn = mount_conn(self.mnt)
        # the first request answers (root attributes)
        bounded(os.stat, self.mnt, timeout=timeout, what="stat of the fresh mount")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pidfile_pid(self):
        with open(os.path.join(self.cache_dir, "dbxfs.pid")) as f:
            return int(f.read().split()[0])

    def unmount(self, check=True, timeout=None):
        """fusermount3 -u (retried while busy), then waits for dbxfs to exit;
        check: fail unless it exits 0 (a sanitizer report or a crash at
        unmount is a failure). Falls back to -uz and SIGKILL."""
        timeout = timeout or T(30)
        if self.proc is None and self.daemon_pid is not None:
            return self._unmount_daemon(check, timeout)
        if self.proc is None:
            return None
        problems = []
        deadline = time.time() + 5
        while is_mounted(self.mnt):
            r = fusermount(self.mnt)
            if r is not None and r.returncode == 0:
                break
            if time.time() > deadline:
                problems.append("fusermount3 -u failed: %s" % (
                    r.stderr.strip() if r is not None else "timed out"))
                fusermount(self.mnt, lazy=True)
                break
            time.sleep(0.1)
        if problems:             # busy: something in the test is stuck on the mount
            timeout = min(timeout, T(5))
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append("dbxfs did not exit within %ss of the unmount; killed" % timeout)
            self.proc.kill()
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                # stuck in the kernel (a notify deadlock): only an abort ends it
                problems.append("dbxfs survived SIGKILL (stuck in the kernel); "
                                "FUSE connection %s aborted" % self.conn)
                abort_conn(self.conn)
                rc = self.proc.wait(10)
        if is_mounted(self.mnt):
            fusermount(self.mnt, lazy=True)
        if self in _MOUNTS:
            _MOUNTS.remove(self)
        self.proc = None
        if rc != 0:
            problems.append("dbxfs exited with %s after the unmount" % rc)
        if check and problems:
            pytest.fail("%s (mount %s)\n--- dbxfs output:\n%s" % (
                "; ".join(problems), self.name, self.log_tail()), pytrace=False)
        return rc

    # --- the daemon form (dbxfs forks and returns once the mount is up)
    def cli(self, args, timeout=None):
        """Runs dbxfs with args (a list) in this device's environment."""
        require_dbxfs()
        try:
            return subprocess.run([DBXFS] + list(args), capture_output=True, text=True,
                                  timeout=timeout or T(30), env=self.env(),
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.abort()
            raise Hung("dbxfs %s did not return within %ss; stderr: %s" % (
                " ".join(args), e.timeout, _short(e.stderr)))

    def mount_daemon(self, args=None, extra=()):
        """`dbxfs -o ... MNT` without -f: must exit 0 with the mount up."""
        args = args if args is not None else ["-o", self.opts(extra), self.mnt]
        if self not in _MOUNTS:
            _MOUNTS.append(self)
        r = self.cli(args)
        up = is_mounted(self.mnt)
        if up:
            self.conn = mount_conn(self.mnt)
            try:
                self.daemon_pid = self.pidfile_pid()
            except (OSError, ValueError, IndexError):
                self.daemon_pid = -1
        assert r.returncode == 0, "dbxfs %s exited %d: %s" % (" ".join(args), r.returncode,
                                                              r.stderr)
        assert up, "dbxfs returned 0 but %s is not mounted (stderr %r)" % (self.mnt, r.stderr)
        assert self.daemon_pid > 0 and pid_alive(self.daemon_pid), \
            "no live pid in %s/dbxfs.pid" % self.cache_dir
        bounded(os.stat, self.mnt, what="stat of the fresh mount")
        return r

    def _unmount_daemon(self, check, timeout):
        problems = []
        pid, self.daemon_pid = self.daemon_pid, None
        if is_mounted(self.mnt):
            r = None
            deadline = time.time() + 5
            while time.time() < deadline:
                r = fusermount(self.mnt)
                if r is not None and r.returncode == 0:
                    break
                time.sleep(0.1)
            else:
                problems.append("fusermount3 -u failed: %s" % (r.stderr.strip() if r else "?"))
                fusermount(self.mnt, lazy=True)
        if pid > 0:
            deadline = time.time() + timeout
            while pid_alive(pid) and time.time() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                problems.append("dbxfs (pid %d) still running %ss after the unmount" % (
                    pid, timeout))
                os.kill(pid, signal.SIGKILL)
                time.sleep(1)
                if pid_alive(pid):
                    abort_conn(self.conn)
        if self in _MOUNTS:
            _MOUNTS.remove(self)
        if check and problems:
            pytest.fail("; ".join(problems), pytrace=False)
        return 0 if not problems else 1

    def kill9(self, pid=None):
        """kill -9 of dbxfs (by its pid file unless pid is given), then a
        lazy unmount of the dead mount."""
        pid = pid or self.pidfile_pid()
        os.kill(pid, signal.SIGKILL)
        try:
            if self.proc is not None and self.proc.pid == pid:
                self.proc.wait(10)
            else:
                wait_for(lambda: not pid_alive(pid), 10, "pid %d to die" % pid)
        except (subprocess.TimeoutExpired, AssertionError):
            abort_conn(self.conn)
            raise AssertionError("dbxfs (pid %d) survived kill -9 for 10s (stuck in the "
                                 "kernel); its FUSE connection was aborted" % pid)
        r = fusermount(self.mnt, lazy=True)
        assert r is not None and r.returncode == 0, "fusermount3 -u -z failed: %s" % (
            r.stderr if r else "timeout")
        assert not is_mounted(self.mnt)
        if self in _MOUNTS:
            _MOUNTS.remove(self)
        self.proc = None

    def abort(self):
        """For the watchdog and finalizers: kill dbxfs and detach the mount,
        which fails every pending request with ENOTCONN."""
        ours_alive = (self.proc is not None and self.proc.poll() is None) or \
            (self.daemon_pid is not None and self.daemon_pid > 0 and pid_alive(self.daemon_pid))
        if self.conn is not None and (ours_alive or mount_conn(self.mnt) == self.conn):
            abort_conn(self.conn)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        try:
            pid = self.daemon_pid or self.pidfile_pid()
            if pid > 0 and pid_alive(pid) and self.proc is None:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass
        if is_mounted(self.mnt):
            fusermount(self.mnt, lazy=True)

    def log_tail(self, n=12000):
        return log_tail(self.log_path, n)

    # --- inside
    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def status(self, timeout=None):
        raw = bounded(os.getxattr, self.mnt, STATUS_XATTR, timeout=timeout or T(10),
                      what="getxattr %s" % STATUS_XATTR)
        return json.loads(raw)

    def wait_idle(self, timeout=None, online=True):
        """Waits until the status says queued == dirty == uploading ==
        waiting == 0 (and online, unless online=False), twice in a row;
        returns the status."""
        timeout = timeout or T(60)
        state = {"n": 0, "last": None}

        def idle():
            s = self.status()
            state["last"] = s
            if s["queued"] == 0 and s["dirty"] == 0 and s["uploading"] == 0 and \
                    s.get("waiting", 0) == 0 and (not online or s["online"] is True):
                state["n"] += 1
            else:
                state["n"] = 0
            return state["n"] >= 2

        try:
            wait_for(idle, timeout, "mount %s to be idle" % self.name, interval=0.1)
        except AssertionError as e:
            raise AssertionError("%s; last status %r" % (e, state["last"]))
        return state["last"]

    def node_id(self, path):
        return os.getxattr(path, ID_XATTR).decode().strip("\0").strip()

    def rel(self, path):
        return os.path.relpath(path, self.mnt)


# --------------------------------------------------------------------------
# fixtures

def pytest_configure(config):
    config.addinivalue_line("markers", "watchdog(seconds): per-test time limit "
                            "(before the sanitizer factor); default 120")


@pytest.fixture(autouse=True)
def watchdog(request):
    m = request.node.get_closest_marker("watchdog")
    secs = T(m.args[0] if m else 120)
    fired = []

    def fire():
        fired.append(time.time())
        for mt in list(_MOUNTS):
            try:
                mt.abort()
            except Exception:  # noqa: BLE001 - best effort
                pass

    t = threading.Timer(secs, fire)
    t.daemon = True
    t.start()
    t0 = time.time()
    yield
    t.cancel()
    log("%s took %.1fs" % (request.node.name, time.time() - t0))
    if fired:
        pytest.fail("watchdog: the test ran over %ss; its mounts were killed" % secs,
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        seen = []
        for m in list(getattr(item, "_dbxfs_mounts", [])) + list(_MOUNTS):
            if m in seen:
                continue
            seen.append(m)
            if m.log_path:
                rep.sections.append(("dbxfs %s output (%s)" % (m.name, m.log_path),
                                     m.log_tail()))
        attach_server_logs(rep)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared dbxd; every test makes its own account on it."""
    yield from serve(tmp_path_factory, "dbxd", name="shared", users={})


@pytest.fixture
def own_server(tmp_path_factory):
    """A dbxd for one test (which may stop and restart it)."""
    yield from serve(tmp_path_factory, "dbxd-own", name="own", users={})


@pytest.fixture
def account(server):
    return Account(server)


@pytest.fixture
def make_mount(request, tmp_path):
    """make_mount(server, account, name="a", cache_dir=None, mount=True,
    extra=()) -> Mount; every mount is unmounted at the end of the test
    (a failing unmount fails the test)."""
    made = []
    request.node._dbxfs_mounts = made

    def make(server, account, name="a", cache_dir=None, mount=True, extra=()):
        m = Mount(tmp_path, server, account, name=name, cache_dir=cache_dir)
        made.append(m)
        if mount:
            m.mount(extra=extra)
        return m

    yield make
    errors = []
    for m in reversed(made):
        if m.proc is None and m.daemon_pid is None and not is_mounted(m.mnt):
            continue
        if m.proc is None and m.daemon_pid is None:
            errors.append("%s is still mounted but no dbxfs of this test serves it" % m.mnt)
            m.abort()
            continue
        if m.proc is not None and m.proc.poll() is not None and is_mounted(m.mnt):
            errors.append("dbxfs %s had died (exit %s) before the end of the test" % (
                m.name, m.proc.returncode))
        try:
            m.unmount(check=True)
        except BaseException as e:  # noqa: BLE001 - collect, clean up the rest first
            errors.append(str(e))
            m.abort()
    for m in made:
        if m in _MOUNTS:
            _MOUNTS.remove(m)
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def mnt(server, account, make_mount):
    """One mount of a fresh account on the shared server."""
    return make_mount(server, account, "a")


# --------------------------------------------------------------------------
# checks shared by the test files

def expect_errno(code, fn, *args, **kw):
    """Asserts that fn(*args) fails with OSError errno code (or one of a
    tuple of codes); returns the exception."""
    codes = code if isinstance(code, tuple) else (code,)
    try:
        r = fn(*args, **kw)
    except OSError as e:
        assert e.errno in codes, "%s%r: expected %s, got %s (%s)" % (
            getattr(fn, "__name__", fn), args, "/".join(errno.errorcode[c] for c in codes),
            errno.errorcode.get(e.errno, e.errno), e)
        return e
    raise AssertionError("%s%r succeeded (returned %r); expected %s" % (
        getattr(fn, "__name__", fn), args, r, "/".join(errno.errorcode[c] for c in codes)))


def assert_server_matches(m, sub=None, timeout=None):
    """Waits until mount m is idle, then checks that the server holds
    exactly what the mount shows (names, kinds, modes, owners, sizes, file
    mtimes, bytes, symlink targets), under sub (a relpath) or everywhere."""
    m.wait_idle(timeout)
    root = m.path(sub) if sub else m.mnt
    local = bounded(snapshot, root, timeout=T(120), what="walk of the mount")
    root_id = None
    if sub:
        node = m.account.lookup(sub)
        assert node is not None, "server has no %r" % sub
        root_id = node["id"]
    remote = m.account.snapshot(root_id)
    assert_same_tree(local, remote, "mount %s" % m.name, "server")
    return local
