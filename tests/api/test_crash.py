"""kill -9 during a burst of writes: everything acknowledged survives."""
import os
import threading
import time

import requests

from conftest import KiB, ok, rand_bytes, new_id, split


def test_kill9_during_burst(make_server):
    srv = make_server("crash")
    c = srv.client("alice")
    base = c.mkdir(c.root, "burst")
    expected = {}       # id -> ("dir", None) | ("file", {acceptable contents})
    for i in range(3):
        data = rand_bytes(100 * KiB + i)
        n = c.write_file(base["id"], "pre%d.bin" % i, data, chunk_size=32 * KiB)
        expected[n["id"]] = ("file", {data})
    lock = threading.Lock()
    killed = threading.Event()
    counts = {"acked": 0}

    def worker(k):
        w = srv.client("alice")
        w.s.headers["Connection"] = "keep-alive"
        i = 0
        while i < 100000:
            i += 1
            try:
                d = w.create(base["id"], "d%d-%d" % (k, i), "dir", expect=None)
                if d.status_code == 201:
                    with lock:
                        expected[d.json()["id"]] = ("dir", None)
                        counts["acked"] += 1
                r = w.create(base["id"], "f%d-%d" % (k, i), "file", expect=None)
                if r.status_code != 201:
                    continue
                fid = r.json()["id"]
                data = os.urandom(3000 + i)
                with lock:
                    expected[fid] = ("file", {b"", data})    # commit may or may not land
                    counts["acked"] += 1
                chunks = split(data, 1024)
                s = w.open_upload(fid, chunks, 0, expect=None)
                if s.status_code != 200:
                    continue
                w.put_missing(s.json(), chunks)
                cr = w.commit(s.json()["id"], expect=None)
                if cr.status_code == 200:
                    with lock:
                        expected[fid] = ("file", {data})
                        counts["acked"] += 1
            except (requests.exceptions.RequestException, AssertionError):
                if killed.is_set():
                    return
                # an error while the server runs is a failure, recorded below
                with lock:
                    counts.setdefault("errors", 0)
                    counts["errors"] += 1
                return

    ths = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in ths:
        t.start()
    time.sleep(1.5)
    killed.set()
    srv.proc.kill()                   # SIGKILL in the middle of the burst
    srv.proc.wait(5)
    for t in ths:
        t.join(30)
    assert counts.get("errors", 0) == 0, "requests failed before the kill"
    assert counts["acked"] >= 10, "the burst made too little progress: %s" % counts
    # restart on the same data dir
    srv.start()
    c2 = srv.client("alice")
    names = set(c2.names(base["id"]))
    for nid, (kind, contents) in expected.items():
        r = c2.get("/v1/nodes/%s" % nid)
        assert r.status_code == 200, "acknowledged node %s lost after kill -9" % nid
        n = r.json()
        assert n["type"] == kind and n["name"] in names
        if kind == "file":
            got = c2.download(nid)
            assert got in contents, "file %s has wrong content after kill -9" % n["name"]
    # the server answers normally afterwards
    d = c2.mkdir(base["id"], "after-" + new_id())
    data = rand_bytes(50 * KiB)
    f = c2.write_file(d["id"], "after.bin", data)
    assert c2.download(f["id"]) == data
    ok(c2.get("/v1/changes", params={"cursor": "latest"}))
    assert srv.stop() == 0
