"""dbxd's log: one line per request, at info, with the method, the path,
the status and the duration (and user= once the caller proved who it is),
whatever became of the request (an error, a refusal by libmicrohttpd, a
client that went away); no secret in any line (passwords, tokens, URL
signatures, request bodies); and, under systemd, sd-daemon(3) priority
prefixes instead of our own timestamps."""
import collections
import os
import re
import signal
import socket
import subprocess
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conftest import (DBXD, KiB, Client, dbxd_run, err, new_id, ok, raw_http, raw_request,
                      split)

PASSWORD = "Pw-of-logalice-" + new_id()
WRONG_PASSWORD = "Wrong-pw-" + new_id()
BOB_PASSWORD = "Pw-of-logbob-" + new_id()
USERS = {"logalice": PASSWORD, "logbob": BOB_PASSWORD}

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
LINE_RE = re.compile(r"^(%s) (error|warn|info|debug) (.*)$" % STAMP)
REQ_RE = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|-) (/.*?) (0|\d{3}) (\d+)ms"
                    r"(?: user=(\S+))?(?: \((aborted|failed|timed out|shutdown)\))?$")
AUTH_ROUTES = re.compile(r"^/v1/(logout|me|shared|changes|uploads(/.*)?|nodes(/.*)?)$")


class Recorder:
    """Every request the test makes, as dbxd should log it, and every
    secret it saw."""

    def __init__(self):
        self.made = []            # (method, path, status, user or None)
        self.tokens = {}          # live token -> user
        self.secrets = {}         # secret -> what it is

    def secret(self, value, what):
        assert value, what
        self.secrets[value] = what

    def url_secrets(self, url, what):
        """The signature of a signed URL the API handed out."""
        q = parse_qs(urlsplit(url).query)
        assert "sig" in q and "exp" in q, url
        self.secret(q["sig"][0], "the signature of %s %s" % (what, urlsplit(url).path))

    def expect(self, method, path, status, user=None):
        self.made.append((method, path, status, user))

    def hook(self, r, *args, **kw):
        """A requests response hook: what dbxd logs for this request."""
        path = unquote(urlsplit(r.request.url).path)
        path = re.sub(r"[\x00-\x1f\x7f]", "?", path)      # as log_msg writes it
        auth = r.request.headers.get("Authorization", "")
        user = None
        if path == "/v1/login" and r.status_code == 200:
            user = r.json()["user"]
            self.tokens[r.json()["token"]] = user
            self.secret(r.json()["token"], "the token of " + user)
        elif auth.startswith("Bearer ") and r.status_code != 401 and AUTH_ROUTES.match(path) \
                and not self.refused_by_router(r):
            user = self.tokens.get(auth[7:])
        self.expect(r.request.method, path, r.status_code, user)

    @staticmethod
    def refused_by_router(r):
        """Answers given before the token is looked at: no user= then."""
        code = r.json().get("error") if r.status_code in (400, 404, 405) else None
        return code in ("method_not_allowed", "invalid_id", "invalid_hash", "not_found") \
            and r.json().get("message") in ("no such endpoint", "malformed parameter in the path",
                                            "%s is not allowed here" % r.request.method)

    def client(self, server):
        c = Client(server)
        c.s.hooks["response"].append(self.hook)
        return c


def request_lines(text):
    """[(method, path, status, user, ending)] of dbxd's request lines, and
    [(level, message)] of all its lines."""
    reqs, lines = [], []
    for ln in text.splitlines():
        m = LINE_RE.match(ln)
        assert m, "a line not in the format 'TIME LEVEL MESSAGE': %r" % ln
        lines.append((m.group(2), m.group(3)))
        q = REQ_RE.match(m.group(3))
        if q:
            assert m.group(2) == "info", "a request line not at info: %r" % ln
            reqs.append((q.group(1), q.group(2), int(q.group(3)), q.group(5), q.group(6)))
    return reqs, lines


def sock_send(server, data, hold=0.2):
    """Sends data on a fresh connection, waits a moment, then closes it
    without reading: a client that goes away."""
    u = urlsplit(server.url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(data)
    time.sleep(hold)
    s.close()


def wait_for_requests(server, n, timeout=15):
    """Waits until dbxd logged n request lines (the last ones are written
    once the answer has gone, a moment after the client has it)."""
    deadline = time.time() + timeout
    while True:
        with open(server.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        got = sum(1 for ln in text.splitlines()
                  if LINE_RE.match(ln) and REQ_RE.match(LINE_RE.match(ln).group(3)))
        if got >= n or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_one_line_per_request_and_no_secrets(make_server):
    s = make_server("logs", args=["--log-level", "debug"], users=USERS)
    rec = Recorder()
    rec.secret(PASSWORD, "logalice's password")
    rec.secret(WRONG_PASSWORD, "a wrong password")
    rec.secret(BOB_PASSWORD, "logbob's password")
    body_marker = "BODY-MARKER-" + new_id()
    content_marker = b"CONTENT-MARKER-" + new_id().encode()
    rec.secret(body_marker, "a request body")
    rec.secret(content_marker.decode(), "file content")

    # --- accounts
    anon = rec.client(s)
    err(anon.post("/v1/login", {"user": "logalice", "password": WRONG_PASSWORD}, auth=False),
        401, "unauthorized")
    err(anon.post("/v1/login", {"user": "nobody-" + new_id()[:6], "password": PASSWORD},
                  auth=False), 401, "unauthorized")
    alice = rec.client(s)
    alice.login("logalice", PASSWORD)
    bob = rec.client(s)
    bob.login("logbob", BOB_PASSWORD)
    assert ok(alice.get("/v1/me"))["user"] == "logalice"
    err(anon.get("/v1/me"), 401)                                   # no token
    err(anon.get("/v1/me", headers={"Authorization": "Bearer " + "ab" * 32}), 401)

    # --- nodes, an upload through signed PUT URLs, a download through GET URLs
    d = alice.mkdir(alice.root, "logs-" + new_id()[:6])
    f = alice.mkfile(d["id"], "file.bin")
    data = content_marker + os.urandom(200 * KiB)
    chunks = split(data, 64 * KiB)
    sess = alice.open_upload(f["id"], chunks, 0)
    assert len(sess["missing"]) == len(chunks)
    for m in sess["missing"]:
        rec.url_secrets(m["url"], "a chunk PUT URL")
    alice.put_missing(sess, chunks)
    alice.commit(sess["id"])
    cm = alice.content(f["id"])
    for c in cm["chunks"]:
        rec.url_secrets(c["url"], "a chunk GET URL")
    assert alice.download(f["id"]) == data
    # a chunk URL with its signature tampered with
    bad = cm["chunks"][0]["url"].replace("sig=", "sig=0")
    err(anon.get(bad, auth=False), 403, "bad_signature")

    # --- a public link, fetched anonymously, then tampered with
    link = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 600}))
    rec.url_secrets(link["url"], "the link")
    r = anon.get(link["url"], auth=False)
    assert r.status_code == 200 and r.content == data, r.status_code
    h = anon.req("HEAD", link["url"], auth=False)
    assert h.status_code == 200
    sig = parse_qs(urlsplit(link["url"]).query)["sig"][0]
    forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    rec.secret(forged, "a tampered link signature")
    err(anon.get(link["url"].replace(sig, forged), auth=False), 403, "bad_signature")

    # --- sharing, the change feed
    ok(alice.post("/v1/nodes/%s/shares" % d["id"], {"users": ["logbob"], "role": "viewer"}))
    assert [e["node"]["id"] for e in ok(bob.get("/v1/shared"))["entries"]] == [d["id"]]
    cursor = alice.latest()
    j = alice.changes(cursor, wait=1)                                  # a long-poll that times out
    assert j["changes"] == []

    # --- malformed requests, unknown routes, forged log lines
    err(alice.post("/v1/nodes", '{"name": "%s", ' % body_marker), 400, "bad_json")
    err(alice.post("/v1/nodes", {"id": new_id(), "parent": d["id"], "name": "x",
                                 "type": "dir", "mode": 493, "uid": 0, "gid": 0,
                                 "bogus": body_marker}), 400, "bad_request")
    err(alice.get("/v1/nope"), 404, "not_found")
    err(anon.get("/v1/nodes/not-an-id"), 400, "invalid_id")
    err(alice.req("PUT", "/v1/me"), 405, "method_not_allowed")
    err(alice.get("/v1/%0A2026-01-01T00:00:00.000Z error forged line"), 404)

    # --- raw requests: libmicrohttpd's own answers, and clients that go away
    url = sess["missing"][0]["url"]
    st, _, _ = raw_request(s.url, "GET", url, headers={"X-Big": "a" * 40000},
                           token=alice.token)                      # headers over the limit
    assert st == 431
    rec.expect("GET", urlsplit(url).path, 431)
    st, _, _ = raw_http(s.url, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                "a header line without a colon\r\n\r\n" % url).encode())
    assert st == 400                                                # refused by libmicrohttpd
    rec.expect("-", urlsplit(url).path, 400)
    sock_send(s, ("POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 500\r\n\r\n{\"user\": \"logalice\", \"password\": \"%s"
                  % PASSWORD).encode())                            # a login cut short
    rec.expect("POST", "/v1/login", 0)
    f2 = alice.mkfile(d["id"], "cut.bin")
    big = os.urandom(256 * KiB)
    sess2 = alice.open_upload(f2["id"], [big], 0)
    put_url = sess2["missing"][0]["url"]
    rec.url_secrets(put_url, "a chunk PUT URL")
    sock_send(s, ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % (put_url, len(big))).encode() + big[:10000])   # an upload cut short
    rec.expect("PUT", urlsplit(put_url).path, 0)
    sock_send(s, ("GET /v1/changes?cursor=%d&wait=1 HTTP/1.1\r\nHost: x\r\n"
                  "Authorization: Bearer %s\r\n\r\n" % (alice.latest(), alice.token)).encode(),
              hold=0.5)
    rec.expect("GET", "/v1/changes", 200, "logalice")              # a long-poll left alone

    # --- logout: the token stops working
    old = alice.token
    ok(alice.post("/v1/logout"))
    err(alice.get("/v1/me"), 401)
    del rec.tokens[old]

    n = len(rec.made)
    got = wait_for_requests(s, n)
    assert got >= n, "dbxd logged %d request lines for %d requests" % (got, n)
    assert s.stop() == 0, "dbxd did not exit 0 on SIGTERM:\n" + s.log_tail()
    with open(s.log_path, "rb") as fh:
        text = fh.read().decode("utf-8", "replace")

    reqs, lines = request_lines(text)
    # exactly one line per request: the same multiset of (method, path,
    # status, user); a path in the log equal to the request's path also
    # means no query string reached it
    logged = collections.Counter(r[:4] for r in reqs)
    made = collections.Counter(rec.made)
    assert logged == made, "requests made but not logged: %r\nlogged but not made: %r" % (
        sorted(made - logged, key=str), sorted(logged - made, key=str))
    for method, path, status, user, ending in reqs:
        if status == 0:
            assert ending == "aborted", (method, path, status, ending)
    assert not [x for x in lines if x[0] in ("warn", "error")], \
        "client faults logged as server faults:\n" + text
    # one call, one line: the decoded %0A did not start a line of its own
    assert not re.search(r"^2026-01-01T00:00:00\.000Z", text, re.M), text
    assert "/v1/?2026-01-01T00:00:00.000Z error forged line" in text

    # no secret anywhere, whole or in part
    for value, what in rec.secrets.items():
        for part in {value, value[:16], value[-16:]}:
            assert part not in text, "%s (%r) is in dbxd's log:\n%s" % (
                what, part, "\n".join(ln for ln in text.splitlines() if part in ln))
    for word in ("sig=", "exp=", "?u=", "Bearer", "Authorization"):
        assert word not in text, "%r is in dbxd's log:\n%s" % (
            word, "\n".join(ln for ln in text.splitlines() if word in ln))
    assert len(rec.tokens) == 1 and len(rec.secrets) > 8, rec.secrets


# --------------------------------------------------------------------------
# under systemd

def serve(tmp_path, env_extra, chmod_key=False):
    """Runs dbxd serve with stderr on a file and env_extra (which may name
    that file's dev:ino), makes one request, stops it; returns its stderr
    and the file's stat."""
    data = tmp_path / "data"
    os.makedirs(data, mode=0o700)
    r = dbxd_run(["useradd", "-d", str(data), "u1"], "pw-" + new_id() + "\n")
    assert r.returncode == 0, r.stderr
    if chmod_key:
        os.chmod(data / "keys" / "sign.key", 0o644)
    errf = tmp_path / "stderr"
    ready = tmp_path / "ready"
    with open(errf, "wb") as fh:
        st = os.fstat(fh.fileno())
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.update({k: v.format(dev=st.st_dev, ino=st.st_ino) for k, v in env_extra.items()})
        p = subprocess.Popen([DBXD, "serve", "-d", str(data), "--listen", "127.0.0.1",
                              "--port", "0", "--ready-file", str(ready), "--log-level", "debug"],
                             stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, env=env)
    try:
        deadline = time.time() + 10
        while not (ready.exists() and ready.read_text().endswith("\n")):
            assert p.poll() is None and time.time() < deadline, errf.read_text()
            time.sleep(0.02)
        url = ready.read_text().strip()
        st_, _, _ = raw_request(url, "GET", "/v1/me?sig=" + "5" * 64)
        assert st_ == 401
        time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
    assert rc == 0, errf.read_text()
    return errf.read_text()


def test_journald_stream_gets_priorities_not_timestamps(tmp_path):
    """JOURNAL_STREAM naming stderr (systemd.exec(5)): "<N>message" lines,
    journald adds the time and takes the level from the prefix."""
    text = serve(tmp_path, {"JOURNAL_STREAM": "{dev}:{ino}"}, chmod_key=True)
    lines = text.splitlines()
    assert lines, text
    for ln in lines:
        assert re.match(r"^<[3467]>\S", ln), "not an sd-daemon line: %r" % ln
        assert not re.search(STAMP, ln), "a timestamp journald would duplicate: %r" % ln
    assert any(re.match(r"^<4>key file .*sign\.key is readable by others", ln)
               for ln in lines), text
    assert any(ln.startswith("<6>dbxd listening on ") for ln in lines), text
    assert "<6>GET /v1/me 401 " in text, text
    assert "sig=" not in text and "5" * 64 not in text, text


@pytest.mark.parametrize("env", [{}, {"JOURNAL_STREAM": "{dev}:1"},
                                 {"JOURNAL_STREAM": "garbage"}])
def test_timestamps_unless_stderr_is_the_journal(tmp_path, env):
    """Without JOURNAL_STREAM, or when it names another stream (stderr was
    redirected since systemd started us), lines keep their timestamp."""
    text = serve(tmp_path, env)
    for ln in text.splitlines():
        assert LINE_RE.match(ln), "not 'TIME LEVEL MESSAGE': %r" % ln
    assert re.search(r"^%s info GET /v1/me 401 \d+ms$" % STAMP, text, re.M), text
