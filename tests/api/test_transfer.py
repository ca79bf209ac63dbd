"""The client's transfer engines against a real dbxd: the upload engine
(common/transfer*.c) and the mount's download engine (fs/sync/fetch*.c),
driven through dbxbench's put / get / scan commands (tests/bench/dbxbench.c),
and against a small fake server for what a real one never does (serve wrong
bytes, fail on purpose).

dbxbench is found beside dbxd: $DBXD is BUILD/backend/dbxd, dbxbench is
BUILD/tests/bench/dbxbench."""
import http.server
import json
import os
import random
import re
import subprocess
import threading

import pytest

from conftest import DBXD, KiB, MiB, USERS, chunk_files, ok, rand_bytes, sha

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(DBXD)))
BENCH = os.path.join(BUILD, "tests", "bench", "dbxbench")
AVG = 64 * KiB          # --chunk-avg: a few MiB make dozens of chunks
CHUNK_OPT = ("--chunk-avg", str(AVG))
PIPELINE_MIN = 8 * MiB  # the scan runs on two threads from here on


# --------------------------------------------------------------------------
# running dbxbench

def bench(*args, password=USERS["alice"], timeout=120):
    if not (os.path.isfile(BENCH) and os.access(BENCH, os.X_OK)):
        pytest.fail("dbxbench not found at %s (derived from DBXD=%s: the build "
                    "dir's tests/bench/dbxbench; build it with cmake --build)"
                    % (BENCH, DBXD), pytrace=False)
    env = dict(os.environ, DBXBENCH_PASSWORD=password)
    r = subprocess.run([BENCH] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, env=env)
    # a sanitizer report (the ASan build) is a failure whatever the exit code
    assert "Sanitizer" not in r.stderr, r.stderr[-6000:]
    return r


def results(r):
    out = {}
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) == 3 and p[0] == "RESULT":
            out[p[1]] = int(p[2]) if re.match(r"^-?\d+$", p[2]) else p[2]
    return out


def progress(r):
    return [(p[1],) + tuple(int(x) for x in p[2:])
            for p in (line.split() for line in r.stdout.splitlines())
            if p and p[0] == "PROGRESS"]


def succeeded(r):
    assert r.returncode == 0, "dbxbench failed (%d):\n%s\n%s" % (
        r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return results(r)


def failed(r, what):
    """A clean failure: exit 1 and the command's message, not a crash."""
    assert r.returncode == 1, "expected a failure, got %d:\n%s\n%s" % (
        r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    assert r.stderr.startswith(what + ": "), r.stderr[-3000:]
    return r.stderr


def put(url, nid, path, *opts, user="alice"):
    return bench("put", url, user, nid, path, *opts)


def get(url, nid, path, *opts, user="alice"):
    return bench("get", url, user, nid, path, *opts)


def scan(path, *opts):
    r = bench("scan", path, *opts)
    assert r.returncode == 0, r.stderr
    return [(int(p[1]), int(p[2]), p[3]) for p in
            (line.split() for line in r.stdout.splitlines())
            if p and p[0] == "CHUNK"]


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def compressible(n):
    """Text that zstd shrinks several times, without the repeats that would
    make the chunker cut identical chunks."""
    rng = random.Random(n)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"chunk", b"upload",
             b"dbxfs", b"server", b"client", b"\n"]
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choice(words) for _ in range(64)) + b"%d\n" % len(out)
    return bytes(out[:n])


# --------------------------------------------------------------------------
# against dbxd

@pytest.mark.parametrize("size,parallel", [(5 * MiB + 12345, 4),
                                           (PIPELINE_MIN + 3 * MiB + 1, 8),
                                           (700 * KiB + 3, 1)])
def test_round_trip_many_chunks(server, alice, adir, tmp_path, size, parallel):
    data = rand_bytes(size)
    src = write(tmp_path, "in.bin", data)
    f = alice.mkfile(adir["id"], "big.bin")
    res = succeeded(put(server.url, f["id"], src, "-p", parallel, *CHUNK_OPT))
    assert res["size"] == size
    assert res["chunks"] >= size // (4 * AVG), res
    assert res["chunks_sent"] == res["chunks"] and res["bytes_sent"] == size, res
    node = alice.node(f["id"])
    assert node["size"] == size and node["content_rev"] == res["content_rev"]
    cm = alice.content(f["id"])
    assert cm["count"] == res["chunks"]
    assert alice.download(f["id"]) == data          # what the server holds
    dst = str(tmp_path / "out.bin")
    back = succeeded(get(server.url, f["id"], dst, "-p", parallel))
    assert back["chunks_sent"] == res["chunks"] and back["size"] == size
    with open(dst, "rb") as fh:
        assert fh.read() == data
    assert not os.path.exists(dst + ".part")


def test_scan_matches_the_file(tmp_path):
    """The scan's chunks tile the file, carry the hashes of its bytes and
    respect the chunker's bounds, on one thread and on two."""
    for size in (3 * MiB + 5, PIPELINE_MIN + 5 * MiB + 77):
        data = rand_bytes(size)
        src = write(tmp_path, "s%d.bin" % size, data)
        chunks = scan(src, *CHUNK_OPT, "--list", "--verify")
        assert len(chunks) >= size // (4 * AVG)
        off = 0
        for i, (o, n, h) in enumerate(chunks):
            assert o == off and n <= 4 * AVG
            assert n >= AVG // 4 or i == len(chunks) - 1
            assert h == sha(data[o:o + n])
            off += n
        assert off == size


def test_second_upload_sends_no_chunk(server, alice, adir, tmp_path):
    data = rand_bytes(3 * MiB + 99)
    src = write(tmp_path, "in.bin", data)
    f = alice.mkfile(adir["id"], "twice.bin")
    first = succeeded(put(server.url, f["id"], src, *CHUNK_OPT))
    assert first["chunks_sent"] == first["chunks"] > 10
    again = succeeded(put(server.url, f["id"], src, "--base-rev",
                          first["content_rev"], *CHUNK_OPT))
    assert again["chunks"] == first["chunks"]
    assert again["chunks_sent"] == 0 and again["wire_bytes"] == 0, again
    assert again["content_rev"] > first["content_rev"]
    # another file with the same bytes: nothing to send either
    g = alice.mkfile(adir["id"], "copy.bin")
    copy = succeeded(put(server.url, g["id"], src, *CHUNK_OPT))
    assert copy["chunks_sent"] == 0, copy
    assert alice.download(g["id"]) == data


def test_resume_sends_only_the_missing_chunks(server, alice, adir, tmp_path):
    data = rand_bytes(4 * MiB + 4321)
    src = write(tmp_path, "in.bin", data)
    chunks = scan(src, *CHUNK_OPT, "--list")
    assert len(chunks) > 20
    f = alice.mkfile(adir["id"], "resume.bin")
    # an upload cut short: the session opened, every third chunk sent
    body = {"node": f["id"], "base_rev": 0, "size": len(data),
            "chunks": [{"hash": h, "size": n} for _o, n, h in chunks]}
    sess = ok(alice.post("/v1/uploads", body))
    by_hash = {h: data[o:o + n] for o, n, h in chunks}
    sent = set()
    for m in sess["missing"][::3]:
        ok(alice.put_chunk(m["url"], by_hash[m["hash"]]), (200, 201))
        sent.add(m["hash"])
    assert 0 < len(sent) < len(chunks)
    res = succeeded(put(server.url, f["id"], src, *CHUNK_OPT))
    rest = [(o, n, h) for o, n, h in chunks if h not in sent]
    assert res["chunks"] == len(chunks)
    assert res["chunks_sent"] == len(rest), res
    assert res["bytes_sent"] == sum(n for _o, n, _h in rest), res
    # the same session was resumed and is now committed
    assert ok(alice.get("/v1/uploads/%s" % sess["id"]))["state"] == "committed"
    assert alice.download(f["id"]) == data


def test_repeated_content_is_sent_once(server, alice, adir, tmp_path):
    """A file that repeats itself far apart (more chunks apart than dbxd
    looks back for repeats): each distinct chunk goes once. The repeated
    part is 2 MiB, about 32 chunks: with 1 MiB a run of large chunks left
    fewer than 8 shared now and then."""
    a = rand_bytes(2 * MiB)
    data = a + rand_bytes(6 * MiB) + a + rand_bytes(1000)
    src = write(tmp_path, "rep.bin", data)
    chunks = scan(src, *CHUNK_OPT, "--list")
    distinct = {h for _o, _n, h in chunks}
    assert len(chunks) - len(distinct) >= 8, "the chunker should repeat"
    f = alice.mkfile(adir["id"], "rep.bin")
    res = succeeded(put(server.url, f["id"], src, *CHUNK_OPT))
    assert res["chunks"] == len(chunks)
    assert res["chunks_sent"] == len(distinct), res
    dst = str(tmp_path / "out.bin")
    succeeded(get(server.url, f["id"], dst))
    with open(dst, "rb") as fh:
        assert fh.read() == data


def test_compressible_file_goes_as_zstd(server, alice, adir, tmp_path):
    data = compressible(3 * MiB + 17)
    src = write(tmp_path, "text.txt", data)
    f = alice.mkfile(adir["id"], "text.txt")
    res = succeeded(put(server.url, f["id"], src, *CHUNK_OPT))
    assert res["chunks_sent"] == res["chunks"] > 10, res
    assert res["wire_bytes"] < res["bytes_sent"] // 2, res
    assert alice.download(f["id"]) == data
    dst = str(tmp_path / "back.txt")
    back = succeeded(get(server.url, f["id"], dst))
    assert back["wire_bytes"] < len(data) // 2, back    # came as zstd frames
    with open(dst, "rb") as fh:
        assert fh.read() == data
    # and raw when asked
    other = compressible(MiB + 5) + b"-raw"
    g = alice.mkfile(adir["id"], "raw.txt")
    raw = succeeded(put(server.url, g["id"], write(tmp_path, "raw.txt", other),
                        "--zstd-off", *CHUNK_OPT))
    assert raw["wire_bytes"] == raw["bytes_sent"] == len(other), raw
    assert alice.download(g["id"]) == other


def test_empty_file(server, alice, adir, tmp_path):
    f = alice.mkfile(adir["id"], "empty")
    dst = str(tmp_path / "never-written")
    res = succeeded(get(server.url, f["id"], dst))
    assert res["size"] == 0 and res["chunks"] == 0
    assert os.path.getsize(dst) == 0
    # upload nothing over something
    src = write(tmp_path, "some", rand_bytes(100 * KiB))
    first = succeeded(put(server.url, f["id"], src))
    res = succeeded(put(server.url, f["id"], write(tmp_path, "empty", b""),
                        "--base-rev", first["content_rev"]))
    assert res["size"] == 0 and res["chunks"] == 0 and res["chunks_sent"] == 0
    node = alice.node(f["id"])
    assert node["size"] == 0 and node["content_rev"] == res["content_rev"]
    with open(dst, "wb") as fh:
        fh.write(b"old bytes")
    succeeded(get(server.url, f["id"], dst))
    assert os.path.getsize(dst) == 0


@pytest.mark.parametrize("kind", ["raw", "zstd"])
def test_download_of_a_damaged_chunk_fails(server, alice, adir, tmp_path, kind):
    data = rand_bytes(2 * MiB + 3) if kind == "raw" else compressible(2 * MiB + 3)
    src = write(tmp_path, "in.bin", data)
    f = alice.mkfile(adir["id"], "victim.bin")
    succeeded(put(server.url, f["id"], src, *CHUNK_OPT))
    cm = alice.content(f["id"])
    files = chunk_files(server.datadir)
    victim = cm["chunks"][len(cm["chunks"]) // 2]["hash"]
    path = files[victim]
    with open(path, "r+b") as fh:
        raw = bytearray(fh.read())
        raw[len(raw) // 2] ^= 0x01
        fh.seek(0)
        fh.write(raw)
    dst = str(tmp_path / "out.bin")
    msg = failed(get(server.url, f["id"], dst), "get")
    assert "GET chunk" in msg, msg
    assert not os.path.exists(dst) and not os.path.exists(dst + ".part")
    # dbxd set the chunk aside: the next upload of the file sends it again
    again = succeeded(put(server.url, f["id"], src, "--base-rev",
                          cm["content_rev"], *CHUNK_OPT))
    assert again["chunks_sent"] == 1, again
    succeeded(get(server.url, f["id"], dst))
    with open(dst, "rb") as fh:
        assert fh.read() == data


def test_progress_reaches_the_end(server, alice, adir, tmp_path):
    size = PIPELINE_MIN + MiB + 11
    data = rand_bytes(size)
    src = write(tmp_path, "in.bin", data)
    f = alice.mkfile(adir["id"], "progress.bin")
    r = put(server.url, f["id"], src, "--progress", *CHUNK_OPT)
    res = succeeded(r)
    p = progress(r)
    assert [x[0] for x in p] == sorted((x[0] for x in p), key=[
        "scan", "send", "commit", "done"].index), "phases out of order"
    for phase, total, chunks in (("scan", size, res["chunks"]),
                                 ("send", res["bytes_sent"], res["chunks_sent"])):
        lines = [x for x in p if x[0] == phase]
        assert len(lines) >= 2, (phase, p[:5])
        for a, b in zip(lines, lines[1:]):
            assert a[1] <= b[1] and a[3] <= b[3], (phase, a, b)
        assert all(x[1] <= x[2] for x in lines), phase
        assert lines[-1][1:] == (total, total, chunks, chunks), (phase, lines[-1])
    assert p[-1] == ("done", size, size, res["chunks"], res["chunks"])
    r = get(server.url, f["id"], str(tmp_path / "out.bin"), "--progress")
    succeeded(r)
    p = progress(r)
    recv = [x for x in p if x[0] == "receive"]
    assert recv[-1][1:] == (size, size, res["chunks"], res["chunks"]), recv[-1]
    assert p[-1] == ("done", size, size, res["chunks"], res["chunks"])


# --------------------------------------------------------------------------
# against a fake server: wrong bytes, errors, expired URLs

class Fake:
    """Serves one node of one chunk; `plan` lists what each chunk GET gets:
    "good", "bad" (same size, wrong bytes), "long" (one byte more), an HTTP
    status, or "expired" (403 expired); after the plan, good bytes."""

    NODE = "00000000000000aa"

    def __init__(self, data, plan):
        self.data = data
        self.plan = list(plan)
        self.chunk_gets = 0
        self.content_gets = 0
        self.auth = {"api": set(), "chunk": set()}   # Authorization seen
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(200, json.dumps({"token": "t" * 64, "user": "alice",
                                            "root": "0000000000000001",
                                            "expires": 2 ** 31}).encode())

            def do_GET(self):
                api = self.path.startswith("/v1/nodes/")
                fake.auth["api" if api else "chunk"].add(self.headers.get("Authorization"))
                if self.path.startswith("/v1/nodes/%s/content" % fake.NODE):
                    fake.content_gets += 1
                    self.reply(200, json.dumps(fake.content()).encode())
                    return
                fake.chunk_gets += 1
                what = fake.plan.pop(0) if fake.plan else "good"
                d = fake.data
                if what == "bad":
                    self.reply(200, bytes([d[0] ^ 1]) + d[1:], "application/octet-stream")
                elif what == "long":
                    self.reply(200, d + b"x", "application/octet-stream")
                elif what == "expired":
                    self.reply(403, b'{"error":"expired","message":"old"}')
                elif isinstance(what, int):
                    self.reply(what, b'{"error":"internal","message":"try later"}')
                else:
                    self.reply(200, d, "application/octet-stream")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def content(self):
        return {"id": self.NODE, "rev": 7, "content_rev": 7, "size": len(self.data),
                "expires": 2 ** 31, "count": 1,
                "chunks": [{"hash": sha(self.data), "size": len(self.data),
                            "offset": 0,
                            "url": "/v1/chunks/%s?n=%d" % (sha(self.data),
                                                           self.content_gets)}]}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    made = []

    def make(data, plan):
        f = Fake(data, plan)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


@pytest.mark.parametrize("plan,retries", [(["bad"], 1), (["long"], 1),
                                          ([503, 500], 2), (["expired"], 0)])
def test_download_recovers(fake, tmp_path, plan, retries):
    data = rand_bytes(300 * KiB + 1)
    srv = fake(data, plan)
    dst = str(tmp_path / "out.bin")
    res = succeeded(get(srv.url, Fake.NODE, dst))
    assert res["retries"] == retries, res
    assert srv.chunk_gets == len(plan) + 1
    with open(dst, "rb") as fh:
        assert fh.read() == data
    if plan == ["expired"]:
        assert srv.content_gets == 2       # the map again, for fresh URLs


@pytest.mark.parametrize("plan,code", [(["bad", "bad"], "hash_mismatch"),
                                       (["long", "bad"], "hash_mismatch"),
                                       ([404], "HTTP 404"),
                                       (["expired"] * 5, "expired")])
def test_download_gives_up(fake, tmp_path, plan, code):
    data = rand_bytes(200 * KiB)
    srv = fake(data, plan)
    dst = str(tmp_path / "out.bin")
    msg = failed(get(srv.url, Fake.NODE, dst), "get")
    assert code in msg, msg
    assert not os.path.exists(dst) and not os.path.exists(dst + ".part")


def test_token_goes_to_api_calls_only(fake, tmp_path):
    """The bearer token authorises API calls; signed chunk URLs never carry
    it (the same code must talk to S3 presigned URLs, which refuse it)."""
    data = rand_bytes(50 * KiB)
    srv = fake(data, [])
    succeeded(get(srv.url, Fake.NODE, str(tmp_path / "out.bin")))
    assert srv.auth["api"] == {"Bearer " + "t" * 64}, srv.auth
    assert srv.auth["chunk"] == {None}, srv.auth
