"""What dbxd keeps on disk: garbage collection, encryption at rest, key
files, corrupted chunks."""
import os
import re
import stat
import time

import pytest
import requests

from conftest import KiB, chunk_files, rand_bytes, sha, split, ok, err


def gc_counts(res):
    out = res.stdout + res.stderr
    assert res.returncode == 0, "dbxd gc failed (%d): %s" % (res.returncode, out)
    m = re.search(r"gc: removed (\d+) chunks \((\d+) bytes\)", out)
    assert m, "no 'gc: removed N chunks (B bytes)' line in: %r" % out
    return int(m.group(1)), int(m.group(2))


def test_gc(make_server):
    srv = make_server("gc")
    c = srv.client("alice")
    cs = 32 * KiB
    A, B, C = rand_bytes(cs), rand_bytes(cs), rand_bytes(cs)
    A2 = rand_bytes(cs)
    D, E = rand_bytes(cs), rand_bytes(cs)
    f1 = c.write_file(c.root, "f1", A + B, chunk_size=cs)
    f2 = c.write_file(c.root, "f2", C, chunk_size=cs)
    f3 = c.write_file(c.root, "f3", B, chunk_size=cs)      # shares B with f1
    files = chunk_files(srv.datadir)
    for x in (A, B, C):
        assert sha(x) in files, "chunk file for an uploaded chunk not found under chunks/"
    # overwrite f1 (A goes, B stays referenced), delete f2 (C goes)
    c.upload(f1["id"], A2 + B, base_rev=f1["content_rev"], chunk_size=cs)
    c.delete_node(f2["id"])
    # an open upload session holding D (arrived) and E (not yet)
    g = c.mkfile(c.root, "pending")
    sess = c.open_upload(g["id"], [D, E], 0)
    c.put_missing(sess, [D, E], only={sha(D)})
    # a grace of an hour keeps everything
    n, _b = gc_counts(srv.gc(3600))
    assert n == 0
    assert {sha(A), sha(C)} <= set(chunk_files(srv.datadir))
    # grace 0: exactly A and C go
    n, b = gc_counts(srv.gc(0))
    files = chunk_files(srv.datadir)
    assert sha(A) not in files and sha(C) not in files
    for x in (B, A2, D):
        assert sha(x) in files, "gc removed a chunk that is still needed"
    assert n == 2 and b > 0, (n, b)
    # everything still readable; the session still commits
    assert c.download(f1["id"]) == A2 + B
    assert c.download(f3["id"]) == B
    s2 = c.open_upload(g["id"], [D, E], 0)
    assert s2["id"] == sess["id"]
    assert [m["hash"] for m in s2["missing"]] == [sha(E)]
    c.put_missing(s2, [D, E])
    c.commit(sess["id"])
    assert c.download(g["id"]) == D + E
    # a second run finds nothing more
    n, _b = gc_counts(srv.gc(0))
    assert n == 0
    assert c.download(g["id"]) == D + E and c.download(f1["id"]) == A2 + B
    # a removed chunk can be uploaded again later (the server must not think it has it)
    h = c.mkfile(c.root, "again")
    s3 = c.open_upload(h["id"], [A], 0)
    assert [m["hash"] for m in s3["missing"]] == [sha(A)]
    c.put_missing(s3, [A])
    c.commit(s3["id"])
    assert c.download(h["id"]) == A
    assert srv.alive()


def test_gc_keeps_conflicted_copies_and_shared(make_server):
    srv = make_server("gc2")
    c = srv.client("alice")
    b = srv.client("bob")
    f = c.write_file(c.root, "x.txt", b"v0 " * 1000)
    base = f["content_rev"]
    s1 = c.open_upload(f["id"], [b"v1 " * 1000], base)
    s2 = c.open_upload(f["id"], [b"v2 " * 1000], base)
    c.put_missing(s1, [b"v1 " * 1000])
    c.put_missing(s2, [b"v2 " * 1000])
    c.commit(s1["id"])
    conflict = c.commit(s2["id"])["conflict"]
    assert conflict
    c.share(f["id"], ["bob"], "viewer")
    n, _ = gc_counts(srv.gc(0))
    assert n == 1          # only v0 is unreferenced
    assert c.download(conflict["id"]) == b"v1 " * 1000
    assert b.download(f["id"]) == b"v2 " * 1000


PHRASE = b"THE QUICK BROWN DBXFS FOX JUMPS OVER THE LAZY DOG 0123456789!\n"


def _files_containing(root, needle):
    hits = []
    for dp, _dn, fns in os.walk(root):
        for fn in fns:
            p = os.path.join(dp, fn)
            try:
                with open(p, "rb") as fh:
                    if needle in fh.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


def test_encryption_at_rest_and_key_files(make_server):
    srv = make_server("crypt")
    c = srv.client("alice")
    plain = (PHRASE * (1024 * 1024 // len(PHRASE) + 1))[:1024 * 1024]
    f = c.mkfile(c.root, "plain.txt")
    s = c.open_upload(f["id"], [plain], 0)
    ok(c.put_chunk(s["missing"][0]["url"], plain), 201)   # sent uncompressed
    c.commit(s["id"])
    # a random chunk too: its raw bytes must not be on disk either
    rnd = rand_bytes(64 * KiB)
    c.write_file(c.root, "random.bin", rnd)
    files = chunk_files(srv.datadir)
    assert sha(plain) in files and sha(rnd) in files
    assert _files_containing(srv.datadir, PHRASE[:40]) == [], "plaintext found on disk"
    assert _files_containing(srv.datadir, PHRASE[20:60]) == []
    assert _files_containing(os.path.join(srv.datadir, "chunks"), rnd[1000:1064]) == [], \
        "raw chunk bytes found under chunks/"
    with open(files[sha(rnd)], "rb") as fh:
        stored = fh.read()
    assert len(stored) >= len(rnd)    # encrypted, not shortened
    assert c.download(f["id"]) == plain
    # key files: mode 0600 and not empty
    kdir = os.path.join(srv.datadir, "keys")
    assert os.path.isdir(kdir)
    keys = [os.path.join(kdir, k) for k in os.listdir(kdir)]
    keys = [k for k in keys if os.path.isfile(k)]
    assert keys, "no key files under keys/"
    for k in keys:
        st = os.stat(k)
        assert stat.S_IMODE(st.st_mode) == 0o600, "%s has mode %o" % (k, stat.S_IMODE(st.st_mode))
        assert st.st_size >= 32, k
    assert not (stat.S_IMODE(os.stat(kdir).st_mode) & 0o007), "keys/ is world-accessible"
    # the same data dir after a restart still decrypts
    srv.stop()
    srv.start()
    c2 = srv.client("alice")
    assert c2.download(f["id"]) == plain


def test_corrupted_chunk_is_never_served(make_server):
    srv = make_server("corrupt")
    c = srv.client("alice")
    data = rand_bytes(40 * KiB)
    f = c.write_file(c.root, "f", data)
    path = chunk_files(srv.datadir)[sha(data)]
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        b = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([b[0] ^ 0xFF]))
    url = c.content(f["id"])["chunks"][0]["url"]
    j = ok(c.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    for u, what in ((url, "chunk URL"), (j["url"], "link")):
        try:
            r = c.s.get(c.url(u), timeout=10)
            status, body = r.status_code, r.content
        except requests.exceptions.RequestException:
            continue      # the server may cut the answer off mid-stream
        if status == 200 and len(body) != int(r.headers.get("Content-Length", -1)):
            continue      # cut off mid-stream (urllib3 1.x does not raise on a short body)
        if status == 200:
            assert body == data, "a corrupted chunk was served as good through a " + what
        else:
            assert status >= 500 or status == 404, (what, status)
    ok(c.get("/v1/me"))
    assert srv.alive()


def test_expired_upload_session_chunks_are_collected(make_server):
    srv = make_server("upttl", args=["--upload-ttl", "1"])
    c = srv.client("alice")
    f = c.mkfile(c.root, "f")
    X, Y = rand_bytes(5000), rand_bytes(5001)
    s = c.open_upload(f["id"], [X, Y], 0)
    assert s["expires"] <= time.time() + 3
    c.put_missing(s, [X, Y], only={sha(X)})
    assert sha(X) in chunk_files(srv.datadir)
    time.sleep(max(0, s["expires"] - time.time()) + 1.6)
    n, _b = gc_counts(srv.gc(0))
    assert n == 1 and sha(X) not in chunk_files(srv.datadir)
    # the expired session is gone (or at least cannot commit half a file)
    r = c.get("/v1/uploads/%s" % s["id"])
    if r.status_code == 200:
        assert r.json()["state"] != "open" or len(r.json()["missing"]) == 2
    r = c.commit(s["id"], expect=None)
    err(r, (404, 409, 410))
    assert c.node(f["id"])["content_rev"] == 0
    # opening again works and asks for both chunks
    s2 = c.open_upload(f["id"], [X, Y], 0)
    assert sorted(m["hash"] for m in s2["missing"]) == sorted([sha(X), sha(Y)])
    c.put_missing(s2, [X, Y])
    c.commit(s2["id"])
    assert c.download(f["id"]) == X + Y
