"""Shared test helpers for dbxd and dbxfs: a real dbxd process (Server), an
API client (Client) and small helpers. tests/api/conftest.py and
tests/fs/conftest.py import them; the fixtures live in each conftest, and
what both sets of fixtures do (serve(), attach_server_logs()) lives here.

The dbxd binary is $DBXD, default build/backend/dbxd in this repository.
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests

try:
    import zstandard as _zstd
except ImportError:  # fall back to the zstd CLI
    _zstd = None

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DBXD = os.environ.get("DBXD", os.path.join(REPO, "build", "backend", "dbxd"))

KiB = 1024
MiB = 1024 * 1024
ZERO_ID = "0000000000000000"
USERS = {"alice": "alice-secret-pw", "bob": "bob-secret-pw", "carol": "carol-secret-pw"}
HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

NODE_FIELDS = ("id", "parent", "name", "type", "mode", "uid", "gid",
               "atime", "atime_nsec", "mtime", "mtime_nsec", "ctime", "ctime_nsec",
               "size", "rev", "content_rev", "owner")


# --------------------------------------------------------------------------
# small helpers

def new_id():
    """A random node id: 16 lowercase hex digits, never zero."""
    while True:
        v = random.getrandbits(64)
        if v:
            return "%016x" % v


def sha(b):
    return hashlib.sha256(b).hexdigest()


def rand_bytes(n):
    return os.urandom(n)


def split(data, chunk_size):
    if not data:
        return []
    return [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]


def chunk_list(chunks):
    return [{"hash": sha(c), "size": len(c)} for c in chunks]


def zstd_compress(b):
    if _zstd is not None:
        return _zstd.ZstdCompressor(level=3, write_content_size=True).compress(b)
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=b, stdout=subprocess.PIPE,
                          check=True).stdout


def zstd_decompress(b):
    if _zstd is not None:
        return _zstd.ZstdDecompressor().decompressobj().decompress(b)
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=b, stdout=subprocess.PIPE,
                          check=True).stdout


def describe(r):
    body = r.content[:600]
    return "%s %s -> %d %r" % (r.request.method, r.request.url[:200], r.status_code, body)


def is_json(r):
    return r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"


def ok(r, status=200):
    """Asserts a successful JSON answer and returns the decoded body."""
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    assert r.status_code in statuses, "expected %s: %s" % (status, describe(r))
    assert is_json(r), "answer is not application/json: %s %s" % (
        r.headers.get("Content-Type"), describe(r))
    return r.json()


def err(r, status, codes=None):
    """Asserts an error answer {"error","message"} with the status (int or
    tuple) and, if given, an error code (str or tuple). Returns the body."""
    statuses = status if isinstance(status, (tuple, list, set)) else (status,)
    assert r.status_code in statuses, "expected %s %s: %s" % (status, codes or "", describe(r))
    assert is_json(r), "error answer is not application/json (%r): %s" % (
        r.headers.get("Content-Type"), describe(r))
    try:
        j = r.json()
    except ValueError:
        raise AssertionError("error body is not JSON: %s" % describe(r))
    assert isinstance(j, dict), describe(r)
    assert isinstance(j.get("error"), str) and j["error"], "no 'error' code: %s" % describe(r)
    assert isinstance(j.get("message"), str), "no 'message': %s" % describe(r)
    if codes is not None:
        cs = (codes,) if isinstance(codes, str) else tuple(codes)
        assert j["error"] in cs, "expected error %s, got %r: %s" % (cs, j["error"], describe(r))
    return j


def check_node(n, **expect):
    """Checks that n is a complete node object, and the given field values."""
    assert isinstance(n, dict), n
    for f in NODE_FIELDS:
        assert f in n, "node lacks %r: %r" % (f, n)
    assert HEX16.match(n["id"]), n
    assert HEX16.match(n["parent"]), n
    assert n["type"] in ("file", "dir", "symlink"), n
    for f in ("mode", "uid", "gid", "atime", "atime_nsec", "mtime", "mtime_nsec",
              "ctime", "ctime_nsec", "size", "rev", "content_rev"):
        assert isinstance(n[f], int) and not isinstance(n[f], bool), (f, n)
    assert 0 <= n["mode"] <= 0o7777, n
    for f in ("atime_nsec", "mtime_nsec", "ctime_nsec"):
        assert 0 <= n[f] < 10**9, (f, n)
    if n["type"] == "symlink":
        assert isinstance(n.get("target"), str), n
    for k, v in expect.items():
        assert n.get(k) == v, "node.%s: expected %r, got %r in %r" % (k, v, n.get(k), n)
    return n


def chunk_files(datadir):
    """hash -> path of every chunk file under DATADIR/chunks."""
    out = {}
    root = os.path.join(datadir, "chunks")
    for dp, _dn, fns in os.walk(root):
        for fn in fns:
            h = fn[:64]
            if HEX64.match(h):
                out[h] = os.path.join(dp, fn)
    return out


# --------------------------------------------------------------------------
# raw HTTP (for requests that requests/urllib3 would normalise or refuse)

def raw_http(url_base, data, timeout=10, tls_ctx=None):
    """Sends raw bytes to the server and returns (status or None, headers
    dict, body bytes). status None: the server closed without an answer."""
    u = urlsplit(url_base)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        if tls_ctx is not None:
            s = tls_ctx.wrap_socket(s, server_hostname=u.hostname)
        try:
            s.sendall(data)
        except OSError:
            pass
        buf = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                part = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not part:
                break
            buf += part
            # stop once a complete answer with Content-Length is in
            if b"\r\n\r\n" in buf:
                head, _, body = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    finally:
        s.close()
    if not buf.startswith(b"HTTP/"):
        return None, {}, buf
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return status, hdrs, body


def raw_request(url_base, method, path, headers=None, body=b"", token=None):
    u = urlsplit(url_base)
    h = {"Host": "%s:%d" % (u.hostname, u.port), "Connection": "close"}
    if token:
        h["Authorization"] = "Bearer " + token
    if body or method in ("POST", "PUT", "PATCH"):
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    req = ("%s %s HTTP/1.1\r\n" % (method, path)).encode("latin-1")
    for k, v in h.items():
        req += ("%s: %s\r\n" % (k, v)).encode("latin-1")
    req += b"\r\n" + body
    return raw_http(url_base, req)


def raw_json_error(status, hdrs, body, statuses, codes=None):
    assert status in statuses, "expected %s, got %s %r" % (statuses, status, body[:300])
    assert hdrs.get("content-type", "").split(";")[0] == "application/json", (hdrs, body[:300])
    j = json.loads(body)
    assert isinstance(j.get("error"), str) and isinstance(j.get("message"), str), j
    if codes is not None:
        cs = (codes,) if isinstance(codes, str) else tuple(codes)
        assert j["error"] in cs, j
    return j


# --------------------------------------------------------------------------
# the server process

_LIVE = []   # servers currently running (for failure reports)


def require_built(path, target, env):
    """Fails the test, saying how to build it, unless the build's program
    target is at path (taken from the environment variable env)."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("%s binary not found or not executable at %s: build it "
                    "(cmake --build build --target %s) or set %s=/path/to/%s" % (
                        target, path, target, env, target), pytrace=False)


def require_binary():
    require_built(DBXD, "dbxd", "DBXD")


def wait_started(proc, ready, timeout):
    """Polls ready() until it is true after starting proc: "up"; or
    "exited" when proc ends first, "late" when timeout seconds pass. The
    caller fails the test its own way, with the program's output."""
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            return "exited"
        if time.time() > deadline:
            return "late"
        time.sleep(0.02)
    return "up"


def log_tail(path, n=12000):
    """The last n bytes of a program's log file, as text ("" before it has one)."""
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        data = f.read()
    return data[-n:].decode("utf-8", "replace")


def dbxd_run(args, input_text=None, timeout=60):
    require_binary()
    return subprocess.run([DBXD] + list(args), input=input_text, capture_output=True,
                          text=True, timeout=timeout)


class Server:
    """One dbxd process on a data dir. restart() keeps the data dir."""

    def __init__(self, workdir, name="dbxd", args=(), listen="127.0.0.1", tls=None,
                 users=USERS):
        require_binary()
        self.workdir = str(workdir)
        self.name = name
        self.datadir = os.path.join(self.workdir, "data")
        os.makedirs(self.datadir, mode=0o700, exist_ok=True)
        self.args = list(args)
        self.listen = listen
        self.tls = tls          # (cert, key, cafile) or None
        self.proc = None
        self.url = None
        self.log_path = None
        self.starts = 0
        self.users = dict(users)
        for u, pw in self.users.items():
            self.useradd(u, pw)

    # --- admin commands
    def useradd(self, user, password, check=True):
        r = dbxd_run(["useradd", "-d", self.datadir, user], password + "\n")
        if check:
            assert r.returncode == 0, "useradd %s failed (%d): %s %s" % (
                user, r.returncode, r.stdout, r.stderr)
        return r

    def userdel(self, user):
        return dbxd_run(["userdel", "-d", self.datadir, user])

    def gc(self, grace=0):
        return dbxd_run(["gc", "-d", self.datadir, "--gc-grace", str(grace)])

    @property
    def verify(self):
        return self.tls[2] if self.tls else True

    # --- process
    def start(self, timeout=10, port=None):
        """Starts dbxd; port None picks a free port (--port 0), a number
        asks for that one (restarting on the port a client knows)."""
        if port is not None:
            return self._start_on(port, timeout)
        self.starts += 1
        self.ready = os.path.join(self.workdir, "ready-%d" % self.starts)
        self.log_path = os.path.join(self.workdir, "%s-%d.log" % (self.name, self.starts))
        # The suite fails logins on purpose, many times: the login throttle
        # has its own test (test_auth.py) with its own limit.
        cmd = [DBXD, "serve", "-d", self.datadir, "--listen", self.listen,
               "--port", str(getattr(self, "_want_port", 0)),
               "--ready-file", self.ready, "--login-attempts", "100000"] + self.args
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        self.cmd = cmd
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        if self not in _LIVE:
            _LIVE.append(self)
        up = wait_started(self.proc, self._read_ready, timeout)
        if up == "exited":
            pytest.fail("dbxd exited with %s at startup: %s\n--- stderr:\n%s" % (
                self.proc.returncode, " ".join(cmd), self.log_tail()), pytrace=False)
        if up == "late":
            self.kill()
            pytest.fail("dbxd wrote no ready file within %ss: %s\n--- stderr:\n%s" % (
                timeout, " ".join(cmd), self.log_tail()), pytrace=False)
        if self.listen not in ("127.0.0.1", "localhost"):
            # the ready URL may name the wildcard address: talk to loopback
            u = urlsplit(self.url)
            self.url = "%s://127.0.0.1:%d" % (u.scheme, u.port)
        return self

    def _read_ready(self):
        # dbxd writes the URL and then the newline: a file without it is
        # still being written
        if not os.path.exists(self.ready):
            return False
        with open(self.ready) as f:
            txt = f.read()
        if not (txt.endswith("\n") and txt.strip()):
            return False
        self.url = txt.strip().rstrip("/")
        return True

    @property
    def port(self):
        return urlsplit(self.url).port if self.url else None

    def _start_on(self, port, timeout):
        # The port was just freed by our own dbxd; a bind can still fail for
        # a moment, so a start that exits at once is retried for a while.
        deadline = time.time() + timeout
        self._want_port = port
        try:
            while True:
                try:
                    self.start(timeout=max(1.0, deadline - time.time()))
                    break
                except pytest.fail.Exception:
                    if time.time() >= deadline or (self.proc and self.proc.poll() is None):
                        raise
                    time.sleep(0.2)
        finally:
            self._want_port = 0
        assert self.port == port, "dbxd came up on %s, not port %d" % (self.url, port)
        return self

    def restart(self, timeout=10):
        """Stops dbxd (SIGTERM) and starts it again on the same data dir
        and the same port, so clients that know the URL reconnect."""
        port = self.port
        self.stop()
        return self.start(timeout=timeout, port=port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        if self in _LIVE:
            _LIVE.remove(self)
        return rc

    def stop_checked(self):
        """SIGTERM; fails unless dbxd exits 0 (a sanitizer report or a crash
        at shutdown is a failure)."""
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            return
        rc = self.stop()
        if rc != 0:
            pytest.fail("dbxd %s exited with %s on SIGTERM\n--- stderr:\n%s" % (
                self.name, rc, self.log_tail()), pytrace=False)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self in _LIVE:
            _LIVE.remove(self)

    def log_tail(self, n=12000):
        return log_tail(self.log_path, n)

    # --- clients
    def client(self, user=None, password=None):
        c = Client(self)
        if user is not None:
            c.login(user, password if password is not None else self.users[user])
        return c


# --------------------------------------------------------------------------
# what the fixtures of tests/api and tests/fs share

def serve(tmp_path_factory, dirname, **kw):
    """The body of a server fixture (`yield from serve(...)`): Server(**kw)
    in a fresh tmp dir, started; at the end stopped, and a bad exit (a
    sanitizer report, a crash at shutdown) fails the fixture's teardown."""
    s = Server(tmp_path_factory.mktemp(dirname), **kw)
    s.start()
    yield s
    s.stop_checked()


def attach_server_logs(rep):
    """Adds the stderr of every dbxd alive during a failed test to its report."""
    for s in list(_LIVE):
        rep.sections.append(("dbxd %s stderr (%s)" % (s.name, s.log_path), s.log_tail()))


# --------------------------------------------------------------------------
# the client

class Client:
    def __init__(self, server, token=None):
        self.server = server
        self.s = requests.Session()
        self.s.trust_env = False    # no proxies, no REQUESTS_CA_BUNDLE overriding verify
        self.s.verify = server.verify
        self.token = token
        self.user = None
        self.root = None

    @property
    def base(self):
        return self.server.url

    def url(self, path):
        return urljoin(self.base + "/", path)

    def req(self, method, path, json=None, data=None, headers=None, params=None,
            auth=True, timeout=30, **kw):
        h = dict(headers or {})
        if auth and self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        if json is not None:
            data = _json_dumps(json)
            h.setdefault("Content-Type", "application/json")
        return self.s.request(method, self.url(path), data=data, headers=h, params=params,
                              timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.req("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.req("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def put(self, path, **kw):
        return self.req("PUT", path, **kw)

    # --- auth
    def login(self, user, password):
        j = ok(self.post("/v1/login", {"user": user, "password": password}, auth=False))
        self.token = j["token"]
        self.user = user
        self.root = j["root"]
        return j

    # --- nodes
    def node(self, nid):
        return ok(self.get("/v1/nodes/%s" % nid))

    def create(self, parent, name, type="dir", id=None, mode=None, uid=1000, gid=1000,
               target=None, mtime=None, mtime_nsec=None, expect=201):
        body = {"id": id or new_id(), "parent": parent, "name": name, "type": type,
                "mode": mode if mode is not None else (0o755 if type == "dir" else 0o644),
                "uid": uid, "gid": gid}
        if mtime is not None:
            body["mtime"] = mtime
            body["mtime_nsec"] = mtime_nsec or 0
        if target is not None:
            body["target"] = target
        r = self.post("/v1/nodes", body)
        if expect is None:
            return r
        return ok(r, expect)

    def mkdir(self, parent, name, **kw):
        return self.create(parent, name, "dir", **kw)

    def mkfile(self, parent, name, **kw):
        return self.create(parent, name, "file", **kw)

    def children(self, nid, **params):
        return ok(self.get("/v1/nodes/%s/children" % nid, params=params or None))

    def entries(self, nid):
        """Every entry of directory nid, however many pages they take."""
        out, after = [], None
        while True:
            p = {"limit": 1000}
            if after is not None:
                p["after"] = after
            j = self.children(nid, **p)
            out += j["entries"]
            after = j["next"]
            if after is None:
                return out

    def names(self, nid):
        return [e["name"] for e in self.entries(nid)]

    def patch_node(self, nid, body, expect=200):
        r = self.patch("/v1/nodes/%s" % nid, body)
        return r if expect is None else ok(r, expect)

    def delete_node(self, nid, if_rev=None, expect=200):
        r = self.delete("/v1/nodes/%s" % nid, params={"if_rev": if_rev} if if_rev is not None else None)
        return r if expect is None else ok(r, expect)

    # --- uploads
    def open_upload(self, nid, chunks, base_rev, size=None, expect=200):
        body = {"node": nid, "base_rev": base_rev,
                "size": size if size is not None else sum(len(c) for c in chunks),
                "chunks": chunk_list(chunks)}
        r = self.post("/v1/uploads", body)
        return r if expect is None else ok(r, expect)

    def put_chunk(self, url, data, headers=None):
        # no bearer token: the signed URL is the authorisation
        return self.s.put(self.url(url), data=data, headers=headers or {}, timeout=60)

    def put_missing(self, session, chunks, only=None):
        by_hash = {sha(c): c for c in chunks}
        n = 0
        for m in session["missing"]:
            if only is not None and m["hash"] not in only:
                continue
            r = self.put_chunk(m["url"], by_hash[m["hash"]])
            ok(r, (200, 201))
            n += 1
        return n

    def commit(self, upload_id, body=None, expect=200):
        r = self.post("/v1/uploads/%s/commit" % upload_id, body)
        return r if expect is None else ok(r, expect)

    def upload(self, nid, data, base_rev=None, chunk_size=64 * KiB, mtime=None):
        """open -> PUT missing -> commit; returns the commit answer."""
        if base_rev is None:
            base_rev = self.node(nid)["content_rev"]
        chunks = split(data, chunk_size)
        sess = self.open_upload(nid, chunks, base_rev)
        self.put_missing(sess, chunks)
        body = None
        if mtime is not None:
            body = {"mtime": mtime[0], "mtime_nsec": mtime[1]}
        return self.commit(sess["id"], body)

    def content(self, nid, **params):
        return ok(self.get("/v1/nodes/%s/content" % nid, params=params or None))

    def download(self, nid):
        cm = self.content(nid)
        assert cm["count"] == len(cm["chunks"]), cm
        out = []
        off = 0
        for c in cm["chunks"]:
            assert c["offset"] == off, cm
            r = self.s.get(self.url(c["url"]), timeout=60)
            assert r.status_code == 200, describe(r)
            assert len(r.content) == c["size"], (len(r.content), c)
            assert sha(r.content) == c["hash"], "chunk bytes do not match their hash"
            out.append(r.content)
            off += c["size"]
        data = b"".join(out)
        assert len(data) == cm["size"], cm
        return data

    def upload_chunks(self, nid, chunks, base_rev):
        """Uploads content given as an explicit list of chunks."""
        sess = self.open_upload(nid, chunks, base_rev)
        self.put_missing(sess, chunks)
        return self.commit(sess["id"])

    def write_file(self, parent, name, data, chunk_size=64 * KiB):
        n = self.mkfile(parent, name)
        return self.upload(n["id"], data, base_rev=0, chunk_size=chunk_size)["node"]

    # --- misc
    def changes(self, cursor, **params):
        p = {"cursor": cursor}
        p.update(params)
        return ok(self.get("/v1/changes", params=p, timeout=params.get("wait", 0) + 30))

    def latest(self):
        return ok(self.get("/v1/changes", params={"cursor": "latest"}))["cursor"]

    def share(self, nid, users, role, expect=200):
        r = self.post("/v1/nodes/%s/shares" % nid, {"users": users, "role": role})
        return r if expect is None else ok(r, expect)

    def me_ok(self):
        r = self.get("/v1/me")
        assert r.status_code == 200, "server not answering after the test: " + describe(r)


def _json_dumps(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    return json.dumps(v).encode("utf-8")


