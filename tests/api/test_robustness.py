"""Malformed input of every kind: each gets a JSON 4xx error, never a crash.
After every test the server must still answer GET /v1/me."""
import json
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from conftest import (KiB, MiB, ZERO_ID, chunk_files, err, new_id, ok, raw_http,
                      raw_json_error, raw_request, rand_bytes, sha, zstd_compress)


@pytest.fixture(autouse=True)
def still_alive(server, alice):
    yield
    assert server.alive(), "dbxd died"
    alice.me_ok()


def post_raw(c, path, body, method="POST"):
    return c.req(method, path, data=body, headers={"Content-Type": "application/json"})


def valid_create(parent):
    return {"id": new_id(), "parent": parent, "name": "n-" + new_id(), "type": "dir",
            "mode": 493, "uid": 1000, "gid": 1000}


# ---- invalid JSON

BAD_JSON = [b"", b"{", b'{"user": ', b"not json", b"{'user': 'alice'}", b'{"a":1,}',
            b"\x00\x01\x02", b'{"user":"alice" "password":"x"}', b"[" * 100000,
            b'{"a":' * 50000, b"\xef\xbb\xbf{}garbage", b'{"x": tru}', b'{"x": 1e999999}']


@pytest.mark.parametrize("i", range(len(BAD_JSON)))
def test_invalid_json(alice, adir, i):
    body = BAD_JSON[i]
    f = alice.mkfile(adir["id"], "f")
    targets = [("POST", "/v1/login"), ("POST", "/v1/nodes"),
               ("PATCH", "/v1/nodes/%s" % f["id"]), ("POST", "/v1/uploads"),
               ("POST", "/v1/nodes/%s/shares" % f["id"]),
               ("POST", "/v1/nodes/%s/links" % f["id"])]
    for method, path in targets:
        r = alice.req(method, path, data=body, headers={"Content-Type": "application/json"},
                      auth=(path != "/v1/login"))
        if body == b"" and path.endswith("/links"):
            # the links body is optional: an empty body means the default
            assert r.status_code in (200, 400), r.status_code
            continue
        err(r, 400, ("bad_json", "bad_request"))
    assert alice.node(f["id"])["name"] == "f"


def test_invalid_json_commit_body(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    s = alice.open_upload(f["id"], [b"data"], 0)
    alice.put_missing(s, [b"data"])
    err(post_raw(alice, "/v1/uploads/%s/commit" % s["id"], b"{nope"), 400,
        ("bad_json", "bad_request"))
    err(alice.commit(s["id"], {"mtime": "yesterday"}, expect=None), 400)
    err(alice.commit(s["id"], {"mtime": 1, "mtime_nsec": 0, "colour": 1}, expect=None), 400,
        "bad_request")
    assert alice.node(f["id"])["content_rev"] == 0
    alice.commit(s["id"])


# ---- JSON of the wrong shape

def test_wrong_types_login(anon):
    for body in [{"user": 1, "password": "x"}, {"user": "alice", "password": 5},
                 {"user": ["alice"], "password": "x"}, {"user": None, "password": None},
                 {"user": {"a": 1}, "password": "x"}, [], "alice", 5, None, True]:
        r = anon.post("/v1/login", json.dumps(body), auth=False)
        err(r, 400, ("bad_request", "bad_json"))


def test_wrong_types_create(alice, adir):
    base = valid_create(adir["id"])
    for field, value in [("mode", "493"), ("mode", 493.5), ("mode", True), ("mode", None),
                         ("uid", "1000"), ("gid", [1000]), ("name", 5), ("name", ["x"]),
                         ("name", None), ("id", 123), ("id", None), ("parent", 5),
                         ("type", 1), ("mtime", "now"), ("mtime_nsec", 1.5),
                         ("mtime", 2**64), ("uid", 2**64), ("mode", -493)]:
        body = dict(base, **{field: value})
        err(alice.post("/v1/nodes", body), 400, ("bad_request", "bad_json", "invalid_name",
                                                 "invalid_id"))
    for body in [[], [base], "string", 42, None]:
        err(alice.post("/v1/nodes", json.dumps(body)), 400, ("bad_request", "bad_json"))
    assert alice.names(adir["id"]) == []


def test_wrong_types_patch(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    for body in [{"replace": "yes"}, {"replace": 1}, {"name": 5}, {"parent": 5},
                 {"mode": "0644"}, {"if_rev": "5"}, {"if_rev": -1}, {"mtime": [1]},
                 {"uid": {}}, [], "x"]:
        err(alice.patch("/v1/nodes/%s" % f["id"], body), 400)
    n = alice.node(f["id"])
    assert n["name"] == "f" and n["mode"] == f["mode"] and n["rev"] == f["rev"]


def test_wrong_types_uploads(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    h = sha(b"x")
    good = {"node": f["id"], "base_rev": 0, "size": 1, "chunks": [{"hash": h, "size": 1}]}
    for field, value in [("size", "1"), ("base_rev", "0"), ("base_rev", -1), ("node", 5),
                         ("chunks", {}), ("chunks", "x"), ("chunks", None), ("size", 1.5),
                         ("size", -1), ("chunks", [None]), ("chunks", [[h, 1]])]:
        err(alice.post("/v1/uploads", dict(good, **{field: value})), 400)
    ok(alice.post("/v1/uploads", good))


# ---- unknown and missing fields

def test_unknown_fields_rejected(alice, adir, anon):
    f = alice.mkfile(adir["id"], "f")
    err(anon.post("/v1/login", {"user": "alice", "password": "alice-secret-pw", "remember": 1},
                  auth=False), 400, "bad_request")
    err(alice.post("/v1/nodes", dict(valid_create(adir["id"]), colour="red")), 400,
        "bad_request")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"nmae": "typo"}), 400, "bad_request")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"name": "g", "size": 5}), 400, "bad_request")
    err(alice.post("/v1/uploads", {"node": f["id"], "base_rev": 0, "size": 1,
                                   "chunks": [{"hash": sha(b"x"), "size": 1}], "x": 1}),
        400, "bad_request")
    err(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60, "public": True}), 400,
        "bad_request")
    assert alice.node(f["id"])["name"] == "f"
    assert alice.names(adir["id"]) == ["f"]


def test_missing_fields_rejected(alice, adir, anon):
    err(anon.post("/v1/login", {"user": "alice"}, auth=False), 400, "bad_request")
    err(anon.post("/v1/login", {"password": "x"}, auth=False), 400, "bad_request")
    err(anon.post("/v1/login", {}, auth=False), 400, "bad_request")
    base = valid_create(adir["id"])
    for field in ("id", "parent", "name", "type"):
        body = dict(base)
        del body[field]
        err(alice.post("/v1/nodes", body), 400, ("bad_request", "invalid_id", "invalid_name"))
    f = alice.mkfile(adir["id"], "f")
    good = {"node": f["id"], "base_rev": 0, "size": 1, "chunks": [{"hash": sha(b"x"), "size": 1}]}
    for field in good:
        body = dict(good)
        del body[field]
        err(alice.post("/v1/uploads", body), 400)
    assert alice.names(adir["id"]) == ["f"]


# ---- sizes

def test_huge_json_body_413(alice, adir, anon):
    big = {"user": "alice", "password": "x" * (2 * MiB)}
    body = json.dumps(big).encode()
    for c, path, auth in [(anon, "/v1/login", False), (alice, "/v1/nodes", True)]:
        try:
            r = c.req("POST", path, data=body, headers={"Content-Type": "application/json"},
                      auth=auth)
        except requests.exceptions.ConnectionError:
            continue   # the server may close the connection while we still send
        err(r, 413, "too_large")
    f = alice.mkfile(adir["id"], "f")
    body = json.dumps({"name": "n" * (1100 * KiB)}).encode()
    try:
        r = alice.req("PATCH", "/v1/nodes/%s" % f["id"], data=body,
                      headers={"Content-Type": "application/json"})
        err(r, 413, "too_large")
    except requests.exceptions.ConnectionError:
        pass
    assert alice.node(f["id"])["name"] == "f"


def test_json_just_under_1mib_is_not_413(alice, adir):
    # 1 MiB is the limit: a body a bit under it is parsed (and refused for
    # its content, not its size)
    body = json.dumps(dict(valid_create(adir["id"]), name="n" * (1000 * KiB))).encode()
    assert len(body) < MiB
    err(alice.req("POST", "/v1/nodes", data=body, headers={"Content-Type": "application/json"}),
        400, "invalid_name")


# ---- headers over the limit (--max-header, default 32 KiB): refused before
# the body is read, so a request that would change something changes nothing

BIG_HEADERS = [{"X-Big": "a" * (40 * KiB)},
               {"X-H%d" % i: "b" * 1000 for i in range(40)}]


def refused_431(send):
    """send() with headers over the limit: a 431 too_large answer, or the
    connection closed while the request was still going out."""
    try:
        r = send()
    except requests.exceptions.ConnectionError:
        return
    err(r, 431, "too_large")


def chunk_tmp_files(server):
    """The chunk store's unfinished writes (a PUT in progress or left over)."""
    return os.listdir(os.path.join(server.datadir, "chunks", "tmp"))


def wait_no_chunk_tmp(server, timeout=5.0):
    # A refused PUT's temporary file goes when its request is finished,
    # which may be a moment after the answer was sent.
    deadline = time.monotonic() + timeout
    while chunk_tmp_files(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chunk_tmp_files(server) == []


@pytest.mark.parametrize("hdrs", BIG_HEADERS, ids=["one-40k", "40x1k"])
def test_huge_headers(server, alice, adir, hdrs):
    refused_431(lambda: alice.get("/v1/me", headers=hdrs))
    # a create with huge headers creates nothing
    nid = new_id()
    refused_431(lambda: alice.post("/v1/nodes", dict(valid_create(adir["id"]), id=nid,
                                                    name="big"), headers=hdrs))
    err(alice.get("/v1/nodes/%s" % nid), 404, "not_found")
    assert alice.names(adir["id"]) == []
    # nor does a chunk PUT: the session still lists the chunk missing
    f = alice.mkfile(adir["id"], "f")
    data = rand_bytes(4096)
    s = alice.open_upload(f["id"], [data], 0)
    refused_431(lambda: alice.put_chunk(s["missing"][0]["url"], data, headers=hdrs))
    assert [m["hash"] for m in ok(alice.get("/v1/uploads/%s" % s["id"]))["missing"]] == \
        [sha(data)]
    assert sha(data) not in chunk_files(server.datadir)
    wait_no_chunk_tmp(server)
    # headers a bit under the limit are fine, and the same requests then
    # do what they say (so the checks above could have seen a change)
    ok_hdrs = {"X-Ok": "c" * (16 * KiB)}
    assert alice.get("/v1/me", headers=ok_hdrs).status_code == 200
    ok(alice.post("/v1/nodes", dict(valid_create(adir["id"]), id=nid, name="big"),
                  headers=ok_hdrs), 201)
    assert alice.node(nid)["name"] == "big"
    ok(alice.put_chunk(s["missing"][0]["url"], data, headers=ok_hdrs), 201)
    assert ok(alice.get("/v1/uploads/%s" % s["id"]))["missing"] == []
    assert sha(data) in chunk_files(server.datadir)


# ---- chunk bodies over 64 MiB: refused with 413, nothing stored

CHUNK_MAX = 64 * MiB


def over_limit_body():
    """64 MiB + 1 bytes, unique to this run (a random head, zeros after)."""
    head = rand_bytes(1000)
    return head + bytes(CHUNK_MAX + 1 - len(head))


def open_lying_upload(alice, nid, h):
    """A session for one chunk named h that declares 64 MiB, the most a
    chunk may be: the server learns the real size only from the bytes."""
    return ok(alice.post("/v1/uploads", {"node": nid, "base_rev": 0, "size": CHUNK_MAX,
                                         "chunks": [{"hash": h, "size": CHUNK_MAX}]}))


def put_refused_413(anon, url, body, headers=None):
    try:
        r = anon.put_chunk(url, body, headers=headers)
    except requests.exceptions.ConnectionError:
        return   # the server may close the connection while we still send
    err(r, 413, "too_large")


def assert_chunk_not_stored(server, alice, f, s, h, files_before):
    """Nothing of the refused PUT was kept: the session still misses h, no
    chunk file appeared (under h or any other name), no temporary is left,
    and the commit is refused."""
    assert [m["hash"] for m in ok(alice.get("/v1/uploads/%s" % s["id"]))["missing"]] == [h]
    assert set(chunk_files(server.datadir)) - files_before == set()
    wait_no_chunk_tmp(server)
    j = err(alice.commit(s["id"], expect=None), 409, "missing_chunks")
    assert j["missing"] == [h]
    assert alice.node(f["id"])["content_rev"] == 0


@pytest.mark.parametrize("encoding", ["identity", "zstd"])
def test_chunk_body_over_64mib(server, alice, adir, anon, encoding):
    # The bytes do hash to the URL's chunk: only the size limit can refuse
    # them (a body of the wrong bytes would be refused as a mismatch anyway).
    f = alice.mkfile(adir["id"], "f")
    body = over_limit_body()
    h = sha(body)
    s = open_lying_upload(alice, f["id"], h)
    files_before = set(chunk_files(server.datadir))
    if encoding == "zstd":
        # a few KiB on the wire: only the decompressed size can tell
        body = zstd_compress(body)
        assert len(body) < MiB
        put_refused_413(anon, s["missing"][0]["url"], body, {"Content-Encoding": "zstd"})
    else:
        put_refused_413(anon, s["missing"][0]["url"], body)
    del body
    assert_chunk_not_stored(server, alice, f, s, h, files_before)


def test_chunk_body_over_64mib_wrong_hash(server, alice, adir, anon):
    # the declared chunk's bytes, followed by more up to 64 MiB + 1
    f = alice.mkfile(adir["id"], "f")
    declared = rand_bytes(1000)
    s = alice.open_upload(f["id"], [declared], 0)
    body = declared + bytes(CHUNK_MAX + 1 - len(declared))
    files_before = set(chunk_files(server.datadir))
    try:
        r = anon.put_chunk(s["missing"][0]["url"], body)
        err(r, (400, 413), ("too_large", "hash_mismatch", "size_mismatch"))
    except requests.exceptions.ConnectionError:
        pass
    del body
    assert_chunk_not_stored(server, alice, f, s, sha(declared), files_before)


def test_chunk_body_larger_than_declared(alice, adir, anon):
    f = alice.mkfile(adir["id"], "f")
    declared = rand_bytes(4096)
    s = alice.open_upload(f["id"], [declared], 0)
    url = s["missing"][0]["url"]
    err(anon.put_chunk(url, declared + rand_bytes(4096)), (400, 413),
        ("hash_mismatch", "size_mismatch", "too_large"))
    # a Content-Length that promises more than arrives: the server must not hang
    # forever nor store anything
    u = urlsplit(server_url(anon))
    req = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\n" % url).encode() + declared
    sock = socket.create_connection((u.hostname, u.port), timeout=5)
    sock.sendall(req)
    sock.close()
    time.sleep(0.3)
    assert len(ok(alice.get("/v1/uploads/%s" % s["id"]))["missing"]) == 1


def server_url(c):
    return c.base


# ---- ids

BAD_IDS = ["abc", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg", "zzzzzzzzzzzzzzzz",
           "0x23456789abcdef", "-123456789abcdef", " 123456789abcdef", "0123456789abcde%20",
           "%30123456789abcdef"]


@pytest.mark.parametrize("bad", [b for b in BAD_IDS if " " not in b])
def test_bad_ids_in_url(alice, bad):
    for method, path in [("GET", "/v1/nodes/%s"), ("GET", "/v1/nodes/%s/children"),
                         ("PATCH", "/v1/nodes/%s"), ("DELETE", "/v1/nodes/%s"),
                         ("GET", "/v1/nodes/%s/content"), ("GET", "/v1/nodes/%s/shares"),
                         ("POST", "/v1/nodes/%s/links")]:
        st, hd, body = raw_request(alice.base, method, path % bad,
                                   body=b"{}" if method in ("PATCH", "POST") else b"",
                                   headers={"Content-Type": "application/json"},
                                   token=alice.token)
        raw_json_error(st, hd, body, (400, 404), ("invalid_id", "not_found"))
        if len(bad) != 16 or "%" in bad:
            continue
        assert st == 400, (method, path, bad, st, body)


def test_uppercase_and_zero_ids(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.get("/v1/nodes/%s" % f["id"].upper()), (400, 404), ("invalid_id", "not_found"))
    err(alice.get("/v1/nodes/%s" % ZERO_ID), (400, 404), ("invalid_id", "not_found"))
    err(alice.delete("/v1/nodes/%s" % ZERO_ID), (400, 403, 404))
    err(alice.patch("/v1/nodes/%s" % ZERO_ID, {"mode": 0o700}), (400, 403, 404))
    err(alice.get("/v1/nodes/%s/children" % ZERO_ID), (400, 404))
    err(alice.mkdir(adir["id"], "up", id="ABCDEF0123456789", expect=None), 400, "invalid_id")


@pytest.mark.parametrize("bad", BAD_IDS[:8] + ["ABCDEF0123456789", ZERO_ID])
def test_bad_ids_in_body(alice, adir, bad):
    f = alice.mkfile(adir["id"], "f")
    err(alice.post("/v1/nodes", dict(valid_create(adir["id"]), id=bad)), 400, "invalid_id")
    if bad != ZERO_ID:
        err(alice.post("/v1/nodes", dict(valid_create(adir["id"]), parent=bad)), 400,
            "invalid_id")
        err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": bad}), 400, "invalid_id")
        err(alice.post("/v1/uploads", {"node": bad, "base_rev": 0, "size": 1,
                                       "chunks": [{"hash": sha(b"x"), "size": 1}]}),
            400, "invalid_id")
    assert alice.names(adir["id"]) == ["f"]


# ---- names

@pytest.mark.parametrize("raw_name", [b"\xff\xfe", b"a\xc0\xafb", b"\xed\xa0\x80",
                                      b"\xf4\x90\x80\x80", b"abc\x80", b"\xe2\x82"])
def test_invalid_utf8_names(alice, adir, raw_name):
    body = ('{"id":"%s","parent":"%s","name":"' % (new_id(), adir["id"])).encode() + raw_name + \
        b'","type":"dir","mode":493,"uid":1000,"gid":1000}'
    err(post_raw(alice, "/v1/nodes", body), 400, ("bad_json", "invalid_name"))
    f = alice.mkfile(adir["id"], "f")
    body = b'{"name":"' + raw_name + b'"}'
    err(post_raw(alice, "/v1/nodes/%s" % f["id"], body, "PATCH"), 400,
        ("bad_json", "invalid_name"))
    assert alice.names(adir["id"]) == ["f"]


def test_escaped_bad_names(alice, adir):
    for esc in [r"a\u0000b", r"\u0000", r"\ud800", r"x\udfff", r"a\u002fb", r"\u002e\u002e"]:
        body = ('{"id":"%s","parent":"%s","name":"%s","type":"dir","mode":493,'
                '"uid":1000,"gid":1000}' % (new_id(), adir["id"], esc)).encode()
        err(post_raw(alice, "/v1/nodes", body), 400, ("invalid_name", "bad_json"))
    assert alice.names(adir["id"]) == []


def test_name_length_boundary(alice, adir):
    alice.mkfile(adir["id"], "a" * 255)
    alice.mkfile(adir["id"], "\U0001F600" * 63 + "abc")      # 255 bytes
    err(alice.mkfile(adir["id"], "\U0001F600" * 64, expect=None), 400, "invalid_name")  # 256
    err(alice.mkfile(adir["id"], "b" * 256, expect=None), 400, "invalid_name")
    assert len(alice.names(adir["id"])) == 2


# ---- paths

TRAVERSALS = ["/v1/chunks/../../keys", "/v1/chunks/..%2f..%2fkeys", "/v1/chunks/%2e%2e/%2e%2e/keys",
              "/v1/nodes/../..", "/v1/nodes/%2e%2e", "/v1/../keys/", "/../../etc/passwd",
              "/v1/chunks/..%2F..%2Fmeta%2Fdata.mdb?exp=1&sig=00",
              "/v1/links/..%2f..%2fkeys?exp=1&sig=00", "/v1/chunks/%00", "/v1/nodes/%00%00",
              "//v1/me", "/v1//me", "/v1/me/", "/v1/me/.", "/v1/nodes/%s/../../me"]


def _secrets(server):
    out = []
    kdir = os.path.join(server.datadir, "keys")
    for k in os.listdir(kdir):
        with open(os.path.join(kdir, k), "rb") as fh:
            b = fh.read()
        if len(b) >= 16:
            out += [b[:16], b[:16].hex().encode()]
    return out


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal(server, alice, path):
    if "%s" in path:
        path = path % alice.root
    secrets = _secrets(server)
    for method in ("GET", "PUT"):
        st, hd, body = raw_request(alice.base, method, path, token=alice.token,
                                   body=b"x" if method == "PUT" else b"")
        assert st is not None, "no answer to %s %s" % (method, path)
        if path in ("/v1/me/", "/v1/me/.", "//v1/me", "/v1//me") and st == 200 and method == "GET":
            # a server may normalise slashes; then it must be the real /v1/me
            assert json.loads(body)["user"] == "alice"
            continue
        raw_json_error(st, hd, body, (400, 401, 403, 404, 405))
        for s in secrets:
            assert s not in body, "key material leaked through %s" % path


def test_hash_not_hex(alice, anon):
    for h in ["abc", "g" * 64, "A" * 64, "0" * 63, "0" * 65, "%00" * 10, "..", "0" * 64 + "/x"]:
        st, hd, body = raw_request(alice.base, "GET", "/v1/chunks/%s?exp=9999999999&sig=%s"
                                   % (h, "0" * 64))
        raw_json_error(st, hd, body, (400, 401, 403, 404), ("invalid_hash", "bad_signature",
                                                             "not_found", "unauthorized"))
        st, hd, body = raw_request(alice.base, "PUT", "/v1/chunks/%s?exp=9999999999&sig=%s"
                                   % (h, "0" * 64), body=b"hi")
        raw_json_error(st, hd, body, (400, 401, 403, 404, 405),
                       ("invalid_hash", "bad_signature", "not_found", "unauthorized",
                        "method_not_allowed"))


# ---- unknown endpoints and methods

@pytest.mark.parametrize("path", ["/v1/nope", "/", "/v2/me", "/v1", "/v1/nodes/%s/nope",
                                  "/v1/uploads", "/v1/loginx", "/favicon.ico"])
def test_unknown_endpoint_404(alice, path):
    if "%s" in path:
        path = path % alice.root
    r = alice.get(path)
    if path == "/v1/uploads":
        err(r, (404, 405))   # exists for POST only
    else:
        err(r, 404, "not_found")


@pytest.mark.parametrize("method,path", [
    ("PUT", "/v1/me"), ("DELETE", "/v1/me"), ("GET", "/v1/login"), ("PUT", "/v1/login"),
    ("GET", "/v1/logout"), ("POST", "/v1/changes"), ("DELETE", "/v1/shared"),
    ("PUT", "/v1/nodes/ROOT"), ("POST", "/v1/nodes/ROOT"), ("GET", "/v1/nodes"),
    ("DELETE", "/v1/nodes/ROOT/children"), ("PATCH", "/v1/nodes/ROOT/content"),
    ("PUT", "/v1/nodes/ROOT/shares"), ("GET", "/v1/nodes/ROOT/links"),
    ("POST", "/v1/chunks/" + "0" * 64),
    ("DELETE", "/v1/chunks/" + "0" * 64), ("PUT", "/v1/links/ROOT"),
])
def test_wrong_method_405(alice, method, path):
    path = path.replace("ROOT", alice.root)
    r = alice.req(method, path, data=b"{}" if method in ("PUT", "POST", "PATCH") else None)
    err(r, 405, "method_not_allowed")
    if "Allow" in r.headers:
        assert method not in r.headers["Allow"]


def test_odd_methods(alice):
    for m in ("OPTIONS", "TRACE", "CONNECT", "FOO"):
        st, hd, body = raw_request(alice.base, m, "/v1/me", token=alice.token)
        assert st is None or 400 <= st < 500 or st == 501 or \
            (m == "OPTIONS" and st in (200, 204)), (m, st)


# ---- query strings

def test_bad_query_strings(alice, adir):
    for q in ["limit=1&limit=2&limit=abc", "after=%ff%fe", "after=" + "x" * 5000, "limit=1e3",
              "limit=%00", "after=a%00b", "&&&&", "=&=", "limit"]:
        r = alice.get("/v1/nodes/%s/children?%s" % (adir["id"], q))
        assert r.status_code in (200, 400), (q, r.status_code)
        if r.status_code == 400:
            err(r, 400)
        else:
            assert r.json()["entries"] == []


# ---- raw sockets

GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /v1/me HTTP/9.9\r\n\r\n",
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\nContent-Le",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user\":",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n",
    b"POST /v1/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x00\x01\xff\r\n\r\n",
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\n: empty-name\r\nX: \x00\r\n\r\n",
    b"GET /v1/me HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/nodes/" + b"%" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200),   # a TLS hello
    os.urandom(4096),
    b"GET /v1/me HTTP/1.1\nHost: x\n\n",
    b"GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n" * 50,   # pipelined
]


@pytest.mark.parametrize("i", range(len(GARBAGE)))
def test_garbage_http(alice, i):
    st, hd, body = raw_http(alice.base, GARBAGE[i], timeout=5)
    if st is not None:
        assert st < 500 or st == 505, (st, body[:200])


def test_truncated_requests_do_not_block_others(alice):
    u = urlsplit(alice.base)
    socks = []
    try:
        for i in range(40):
            s = socket.create_connection((u.hostname, u.port), timeout=5)
            s.sendall(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            socks.append(s)
        t = time.monotonic()
        alice.me_ok()
        assert time.monotonic() - t < 2.0
    finally:
        for s in socks:
            s.close()


IDLE_SLOTS = 16


def open_idle(base, n):
    u = urlsplit(base)
    return [socket.create_connection((u.hostname, u.port), timeout=5) for _ in range(n)]


def me_on(sock, token):
    """GET /v1/me on an open connection (kept open): the status, or None if
    the server closed the connection instead of answering."""
    sock.sendall(("GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                  % token).encode())
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            part = sock.recv(65536)
            if not part:
                return None
            buf += part
    except OSError:
        return None
    return int(buf.split(b" ", 2)[1])


def all_slots_serve(base, token, n):
    """n connections open at once, each answered 200."""
    socks = open_idle(base, n)
    try:
        return [me_on(s, token) for s in socks] == [200] * n
    finally:
        for s in socks:
            s.close()


def test_idle_connections_then_close(make_server):
    # A server of its own with few slots, so that slots that closed sockets
    # failed to give back show up as refused connections.
    srv = make_server("idle", args=["--max-connections", str(IDLE_SLOTS)])
    c = srv.client("alice")
    c.s.close()   # the client's own keep-alive connection would hold a slot
    idle = open_idle(srv.url, IDLE_SLOTS)
    try:
        # every slot is taken: the next connection is refused, not served
        st, _, _ = raw_request(srv.url, "GET", "/v1/me", token=c.token)
        assert st is None, "a connection over --max-connections was served (%s)" % st
    finally:
        for s in idle:
            s.close()
    # dbxd notices the closes a moment later; then every slot serves again
    deadline = time.monotonic() + 10
    while not all_slots_serve(srv.url, c.token, IDLE_SLOTS):
        assert time.monotonic() < deadline, "closed idle connections kept their slots"
        time.sleep(0.1)
    assert srv.alive()


def test_concurrent_requests(server, alice, adir):
    errors = []

    def work(k):
        try:
            c = server.client("alice")
            for j in range(10):
                n = c.mkdir(adir["id"], "c%d-%d" % (k, j))
                c.node(n["id"])
        except Exception as e:   # noqa
            errors.append(repr(e))

    ths = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    assert errors == []
    assert len(alice.names(adir["id"])) == 80


def test_same_id_created_concurrently(server, alice, adir):
    nid = new_id()
    res = []

    def work(k):
        c = server.client("alice")
        r = c.create(adir["id"], "race-%d" % k, id=nid, expect=None)
        res.append(r.status_code)

    ths = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    assert sorted(res) == [201] + [409] * 5, res
    assert len(alice.names(adir["id"])) == 1
