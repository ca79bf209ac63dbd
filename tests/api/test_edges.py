"""Edge cases across endpoints: races, revoked rights mid-upload, declared
sizes that lie, conflict names that would be too long."""
import threading
import time
import unicodedata

import pytest

from conftest import KiB, check_node, err, new_id, ok, rand_bytes, sha


def test_declared_chunk_size_must_match_bytes(alice, adir, anon):
    f = alice.mkfile(adir["id"], "f")
    data = b"hello"
    r = alice.post("/v1/uploads", {"node": f["id"], "base_rev": 0, "size": 6,
                                   "chunks": [{"hash": sha(data), "size": 6}]})
    if r.status_code == 200:
        s = r.json()
        put = anon.put_chunk(s["missing"][0]["url"], data)
        if put.status_code in (200, 201):
            # the server took the bytes: then the commit must refuse the lie
            err(alice.commit(s["id"], expect=None), 400, "size_mismatch")
        else:
            err(put, 400, ("size_mismatch", "hash_mismatch"))
    else:
        err(r, 400)
    n = alice.node(f["id"])
    assert n["size"] == 0 and n["content_rev"] == 0


def test_declared_size_of_a_known_chunk_must_match(alice, adir):
    data = rand_bytes(3000)
    alice.write_file(adir["id"], "orig", data)       # the chunk now exists with 3000 bytes
    g = alice.mkfile(adir["id"], "liar")
    r = alice.post("/v1/uploads", {"node": g["id"], "base_rev": 0, "size": 4000,
                                   "chunks": [{"hash": sha(data), "size": 4000}]})
    err(r, 400, "size_mismatch")
    n = alice.node(g["id"])
    assert n["size"] == 0 and n["content_rev"] == 0


def test_same_hash_two_sizes_in_one_list(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    h = sha(b"abc")
    err(alice.post("/v1/uploads", {"node": f["id"], "base_rev": 0, "size": 7,
                                   "chunks": [{"hash": h, "size": 3}, {"hash": h, "size": 4}]}),
        400, "size_mismatch")


def test_upload_to_symlink_refused(alice, adir):
    s = alice.create(adir["id"], "ln", "symlink", target="x")
    err(alice.open_upload(s["id"], [b"x"], 0, expect=None), (400, 409))


def test_commit_after_node_deleted(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    s = alice.open_upload(f["id"], [b"late bytes"], 0)
    alice.put_missing(s, [b"late bytes"])
    alice.delete_node(f["id"])
    err(alice.commit(s["id"], expect=None), (404, 409, 410))
    err(alice.get("/v1/nodes/%s" % f["id"]), 404, "not_found")
    assert alice.names(adir["id"]) == []


def test_commit_after_rename_keeps_new_name(alice, adir):
    d2 = alice.mkdir(adir["id"], "elsewhere")
    f = alice.mkfile(adir["id"], "f")
    s = alice.open_upload(f["id"], [b"content"], 0)
    alice.put_missing(s, [b"content"])
    alice.patch_node(f["id"], {"parent": d2["id"], "name": "g"})
    j = alice.commit(s["id"])
    check_node(j["node"], parent=d2["id"], name="g", size=7)
    assert j["conflict"] is None


def test_editor_revoked_between_open_and_commit(alice, carol, adir):
    f = alice.write_file(adir["id"], "f", b"alice's")
    alice.share(f["id"], ["carol"], "editor")
    s = carol.open_upload(f["id"], [b"carol's"], f["content_rev"])
    carol.put_missing(s, [b"carol's"])
    ok(alice.delete("/v1/nodes/%s/shares/carol" % f["id"]))
    err(carol.commit(s["id"], expect=None), (403, 404))
    assert alice.download(f["id"]) == b"alice's"


def test_editor_downgraded_between_open_and_commit(alice, carol, adir):
    f = alice.write_file(adir["id"], "f", b"alice's")
    alice.share(f["id"], ["carol"], "editor")
    s = carol.open_upload(f["id"], [b"carol's"], f["content_rev"])
    carol.put_missing(s, [b"carol's"])
    alice.share(f["id"], ["carol"], "viewer")
    err(carol.commit(s["id"], expect=None), 403, "forbidden")
    assert alice.download(f["id"]) == b"alice's"


def test_replace_target_with_open_session(alice, adir):
    a = alice.write_file(adir["id"], "a", b"A")
    b = alice.write_file(adir["id"], "b", b"B")
    s = alice.open_upload(b["id"], [b"BB"], b["content_rev"])
    alice.put_missing(s, [b"BB"])
    alice.patch_node(a["id"], {"name": "b", "replace": True})
    err(alice.commit(s["id"], expect=None), (404, 409, 410))
    assert alice.names(adir["id"]) == ["b"]
    assert alice.download(a["id"]) == b"A"


def test_concurrent_stale_commits_lose_nothing(server, alice, adir):
    f = alice.write_file(adir["id"], "hot.txt", b"v0")
    base = f["content_rev"]
    versions = [("version %d " % i).encode() * (i + 1) for i in range(4)]
    sessions = []
    for v in versions:
        s = alice.open_upload(f["id"], [v], base)
        alice.put_missing(s, [v])
        sessions.append(s)
    results = [None] * 4
    clients = [server.client("alice") for _ in range(4)]
    barrier = threading.Barrier(4)

    def commit(k):
        barrier.wait()
        results[k] = clients[k].commit(sessions[k]["id"], expect=None)

    ths = [threading.Thread(target=commit, args=(k,)) for k in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    for r in results:
        ok(r)
    conflicts = [r.json()["conflict"] for r in results]
    assert sum(c is None for c in conflicts) == 1, conflicts
    copies = [c for c in conflicts if c]
    names = [c["name"] for c in copies]
    assert len(set(names)) == 3, "conflicted copies share a name: %s" % names
    listing = alice.names(adir["id"])
    assert sorted(listing) == sorted(["hot.txt"] + names), listing
    contents = {alice.download(f["id"])} | {alice.download(c["id"]) for c in copies}
    assert contents == set(versions), "a version was lost in concurrent commits"


def test_two_conflicts_in_the_same_second(alice, adir):
    f = alice.write_file(adir["id"], "same.txt", b"v0")
    base = f["content_rev"]
    sess = []
    for v in (b"one", b"two", b"three"):
        s = alice.open_upload(f["id"], [v], base)
        alice.put_missing(s, [v])
        sess.append(s)
    alice.commit(sess[0]["id"])
    c1 = alice.commit(sess[1]["id"])["conflict"]
    c2 = alice.commit(sess[2]["id"])["conflict"]
    assert c1 and c2 and c1["id"] != c2["id"] and c1["name"] != c2["name"]
    assert alice.download(c1["id"]) == b"one"
    assert alice.download(c2["id"]) == b"two"
    assert alice.download(f["id"]) == b"three"
    assert len(alice.names(adir["id"])) == 3


def test_conflict_name_of_a_long_name_stays_valid(alice, adir):
    name = "L" * 246 + ".txt"     # 250 bytes: the suffix cannot simply be added
    f = alice.write_file(adir["id"], name, b"v0")
    s1 = alice.open_upload(f["id"], [b"v1"], f["content_rev"])
    s2 = alice.open_upload(f["id"], [b"v2"], f["content_rev"])
    alice.put_missing(s1, [b"v1"])
    alice.put_missing(s2, [b"v2"])
    alice.commit(s1["id"])
    j = alice.commit(s2["id"])
    c = j["conflict"]
    assert c is not None
    assert 1 <= len(c["name"].encode()) <= 255, len(c["name"].encode())
    assert "conflicted copy" in c["name"]
    assert c["name"] != name
    assert alice.download(c["id"]) == b"v1"


def test_conflict_in_shared_file_belongs_to_owner(alice, carol, adir):
    d = alice.mkdir(adir["id"], "shared")
    f = alice.write_file(d["id"], "doc.txt", b"v0")
    alice.share(d["id"], ["carol"], "editor")
    sa = alice.open_upload(f["id"], [b"alice"], f["content_rev"])
    sc = carol.open_upload(f["id"], [b"carol"], f["content_rev"])
    alice.put_missing(sa, [b"alice"])
    carol.put_missing(sc, [b"carol"])
    alice.commit(sa["id"])
    j = carol.commit(sc["id"])
    assert j["conflict"] is not None
    check_node(j["conflict"], owner="alice", parent=d["id"])
    assert carol.download(j["conflict"]["id"]) == b"alice"


def test_unicode_names_are_bytes(alice, adir):
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    a = alice.mkfile(adir["id"], nfc)
    b = alice.mkfile(adir["id"], nfd)
    assert a["id"] != b["id"]
    assert sorted(alice.names(adir["id"])) == sorted([nfc, nfd])
    assert alice.node(b["id"])["name"] == nfd


def test_changes_cursor_in_the_future(alice):
    cur = alice.latest()
    t0 = time.monotonic()
    j = alice.changes(cur + 1000000, wait=1)
    assert j["changes"] == []
    assert time.monotonic() - t0 < 5
    r = alice.get("/v1/changes", params={"cursor": str(2**62)})
    if r.status_code == 200:
        assert r.json()["changes"] == []
    else:
        err(r, 400)


def test_changes_latest_ignores_wait(alice):
    t0 = time.monotonic()
    j = ok(alice.get("/v1/changes", params={"cursor": "latest", "wait": 5}))
    assert time.monotonic() - t0 < 1.0
    assert j["changes"] == []


def test_moving_out_of_a_share_tells_the_viewer(alice, bob, adir):
    d = alice.mkdir(adir["id"], "shared")
    f = alice.mkfile(d["id"], "leaving")
    alice.share(d["id"], ["bob"], "viewer")
    cur = bob.latest()
    alice.patch_node(f["id"], {"parent": adir["id"]})
    j = bob.changes(cur)
    ev = [c for c in j["changes"] if c["node"]["id"] == f["id"]]
    # bob's mount must learn that the file left the folder he can see
    assert ev, "no event for a node that moved out of bob's view: %s" % j
    assert ev[-1]["op"] in ("delete", "unshare") or ev[-1]["node"]["parent"] != d["id"]
    err(bob.get("/v1/nodes/%s" % f["id"]), 404, "not_found")


def test_moving_into_a_share_tells_the_viewer(alice, bob, adir):
    d = alice.mkdir(adir["id"], "shared")
    f = alice.write_file(adir["id"], "arriving", b"hi bob")
    alice.share(d["id"], ["bob"], "viewer")
    cur = bob.latest()
    alice.patch_node(f["id"], {"parent": d["id"]})
    ev = [c for c in bob.changes(cur)["changes"] if c["node"]["id"] == f["id"]]
    assert ev and ev[-1]["op"] == "upsert" and ev[-1]["node"]["parent"] == d["id"]
    assert bob.download(f["id"]) == b"hi bob"


def test_deleting_in_a_share_tells_the_viewer(alice, bob, adir):
    d = alice.mkdir(adir["id"], "shared")
    f = alice.mkfile(d["id"], "doomed")
    alice.share(d["id"], ["bob"], "viewer")
    cur = bob.latest()
    alice.delete_node(f["id"])
    ev = [c for c in bob.changes(cur)["changes"] if c["node"]["id"] == f["id"]]
    assert [e["op"] for e in ev] == ["delete"], ev


def test_editor_may_not_delete_or_move_the_shared_root_out(alice, carol, adir):
    d = alice.mkdir(adir["id"], "team")
    alice.share(d["id"], ["carol"], "editor")
    cd = carol.mkdir(carol.root, "mine-" + new_id())
    err(carol.patch("/v1/nodes/%s" % d["id"], {"parent": cd["id"]}), 403, "forbidden")
    assert alice.node(d["id"])["parent"] == adir["id"]


def test_many_chunks_content_paging(alice, adir):
    chunks = [rand_bytes(100) for _ in range(300)]
    f = alice.mkfile(adir["id"], "many")
    alice.upload_chunks(f["id"], chunks, 0)
    got = []
    start = 0
    while True:
        p = alice.content(f["id"], start=start, limit=64)
        assert p["count"] == 300
        if not p["chunks"]:
            break
        got += p["chunks"]
        start += len(p["chunks"])
    assert [c["hash"] for c in got] == [sha(c) for c in chunks]
    assert [c["offset"] for c in got] == [100 * i for i in range(300)]
    assert alice.download(f["id"]) == b"".join(chunks)


def test_mtime_zero_and_old_files(alice, adir):
    f = alice.mkfile(adir["id"], "old", mtime=0, mtime_nsec=0)
    assert (f["mtime"], f["mtime_nsec"]) == (0, 0)
    j = alice.patch_node(f["id"], {"mtime": 1, "mtime_nsec": 999999999, "atime": 0,
                                   "atime_nsec": 0})
    assert (j["mtime"], j["mtime_nsec"], j["atime"], j["atime_nsec"]) == (1, 999999999, 0, 0)


def test_chunk_put_with_chunked_transfer_encoding(alice, adir, anon):
    data = rand_bytes(300 * KiB)
    f = alice.mkfile(adir["id"], "streamed")
    s = alice.open_upload(f["id"], [data], 0)

    def gen():
        for i in range(0, len(data), 7000):
            yield data[i:i + 7000]

    r = anon.s.put(anon.url(s["missing"][0]["url"]), data=gen(), timeout=30)
    ok(r, 201)
    alice.commit(s["id"])
    assert alice.download(f["id"]) == data


def test_json_with_chunked_transfer_encoding(alice, adir):
    import json as _json
    body = _json.dumps({"id": new_id(), "parent": adir["id"], "name": "chunked-json",
                        "type": "dir", "mode": 493, "uid": 0, "gid": 0}).encode()
    r = alice.s.post(alice.url("/v1/nodes"), data=iter([body[:10], body[10:]]),
                     headers={"Authorization": "Bearer " + alice.token,
                              "Content-Type": "application/json"}, timeout=10)
    ok(r, 201)
    assert alice.names(adir["id"]) == ["chunked-json"]


def test_sigterm_with_long_polls_open(make_server):
    srv = make_server("term", users={"alice": "pw"})
    c = srv.client("alice", "pw")
    cur = c.latest()
    box = {}

    def poll():
        try:
            box["r"] = c.get("/v1/changes", params={"cursor": cur, "wait": 60}, timeout=90)
        except Exception as e:   # noqa: the connection may be closed
            box["e"] = e

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = srv.stop()
    took = time.monotonic() - t0
    th.join(10)
    assert rc == 0, srv.log_tail()
    assert took < 5, "dbxd took %.1f s to stop with a long-poll open" % took


def test_token_survives_restart(make_server):
    srv = make_server("restart", users={"alice": "pw"})
    c = srv.client("alice", "pw")
    f = c.write_file(c.root, "kept", b"kept across restarts")
    srv.stop()
    srv.start()
    assert ok(c.get("/v1/me"))["user"] == "alice"
    assert c.download(f["id"]) == b"kept across restarts"
    # the change feed continues (sequence numbers never go back)
    n = c.mkdir(c.root, "after-restart")
    assert n["rev"] > f["rev"]


def test_knowing_a_hash_does_not_grant_bytes_via_dedup(alice, bob, adir):
    secret = rand_bytes(4000)
    alice.write_file(adir["id"], "secret", secret)
    f = bob.mkfile(bob.root, "thief-" + new_id())
    s = bob.open_upload(f["id"], [secret], 0)
    # the server asks bob for the bytes, which he cannot supply ...
    assert [m["hash"] for m in s["missing"]] == [sha(secret)]
    err(bob.commit(s["id"], expect=None), 409, ("missing_chunks",))
    assert bob.node(f["id"])["size"] == 0
    # ... while alice's own second copy still needs no bytes at all
    g = alice.mkfile(adir["id"], "again")
    assert alice.open_upload(g["id"], [secret], 0)["missing"] == []
    # and once bob sends the bytes himself, the chunk is his too
    bob.put_missing(s, [secret])
    bob.commit(s["id"])
    assert bob.download(f["id"]) == secret


def test_gc_spares_unreferenced_chunk_claimed_by_open_session(make_server):
    srv = make_server("gcrace", users={"alice": "pw"})
    c = srv.client("alice", "pw")
    A = rand_bytes(8000)
    f = c.write_file(c.root, "f", A)
    c.delete_node(f["id"])                 # A is now unreferenced...
    g = c.mkfile(c.root, "g")
    s = c.open_upload(g["id"], [A], 0)     # ...but this session counts on it
    assert s["missing"] == []
    r = srv.gc(0)
    assert r.returncode == 0, r.stderr
    c.commit(s["id"])
    assert c.download(g["id"]) == A


def test_userdel_with_shares_keeps_others_working(make_server):
    srv = make_server("udel")
    a = srv.client("alice")
    b = srv.client("bob")
    c = srv.client("carol")
    f = a.write_file(a.root, "for-bob", b"shared")
    a.share(f["id"], ["bob", "carol"], "viewer")
    g = b.write_file(b.root, "for-alice", b"from bob")
    b.share(g["id"], ["alice"], "editor")
    r = srv.userdel("carol")
    assert r.returncode == 0, r.stderr
    shares = ok(a.get("/v1/nodes/%s/shares" % f["id"]))["shares"]
    assert "carol" not in [s["user"] for s in shares] or shares   # no 500
    r = srv.userdel("bob")
    assert r.returncode == 0, r.stderr
    err(b.get("/v1/me"), 401, "unauthorized")
    j = ok(a.get("/v1/shared"))
    assert all(e["node"]["id"] != g["id"] for e in j["entries"]) or j
    r = a.get("/v1/nodes/%s" % g["id"])
    assert r.status_code in (200, 404)
    ok(a.get("/v1/changes", params={"cursor": 0}))
    assert a.download(f["id"]) == b"shared"
    err(a.share(f["id"], ["bob"], "viewer", expect=None), 404, "not_found")


def test_deep_tree_moves(alice, adir):
    top = alice.mkdir(adir["id"], "top")
    cur = top
    for i in range(100):
        cur = alice.mkdir(cur["id"], "l%d" % i)
    err(alice.patch("/v1/nodes/%s" % top["id"], {"parent": cur["id"]}), 400, "invalid_move")
    leaf = alice.mkfile(cur["id"], "leaf")
    alice.patch_node(leaf["id"], {"parent": adir["id"]})
    assert sorted(alice.names(adir["id"])) == ["leaf", "top"]


def test_replace_emits_delete_for_the_replaced_node(alice, adir):
    a = alice.mkfile(adir["id"], "a")
    b = alice.mkfile(adir["id"], "b")
    cur = alice.latest()
    j = alice.patch_node(a["id"], {"name": "b", "replace": True})
    assert j["replaced"]["id"] == b["id"]
    ev = alice.changes(cur)["changes"]
    assert [e["op"] for e in ev if e["node"]["id"] == b["id"]] == ["delete"], ev
    assert [e["op"] for e in ev if e["node"]["id"] == a["id"]] == ["upsert"], ev


def _race(server, fns):
    clients = [server.client("alice") for _ in fns]
    barrier = threading.Barrier(len(fns))
    out = [None] * len(fns)

    def run(k):
        barrier.wait()
        out[k] = fns[k](clients[k])

    ths = [threading.Thread(target=run, args=(k,)) for k in range(len(fns))]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    return out


def test_race_cross_moves_never_make_a_cycle(server, alice, adir):
    for i in range(15):
        a = alice.mkdir(adir["id"], "A%d" % i)
        b = alice.mkdir(adir["id"], "B%d" % i)
        ra, rb = _race(server, [
            lambda c: c.patch("/v1/nodes/%s" % a["id"], {"parent": b["id"]}),
            lambda c: c.patch("/v1/nodes/%s" % b["id"], {"parent": a["id"]})])
        assert not (ra.status_code == 200 and rb.status_code == 200), \
            "both cross moves succeeded: a cycle cut off from the root"
        for r in (ra, rb):
            if r.status_code != 200:
                err(r, 400, "invalid_move")
        names = alice.names(adir["id"])
        assert ("A%d" % i in names) != ("B%d" % i in names)


def test_race_delete_dir_vs_create_inside(server, alice, adir):
    for i in range(15):
        d = alice.mkdir(adir["id"], "D%d" % i)
        rd, rc = _race(server, [
            lambda c: c.delete("/v1/nodes/%s" % d["id"]),
            lambda c: c.create(d["id"], "x", "file", expect=None)])
        assert not (rd.status_code == 200 and rc.status_code == 201), \
            "a child was created in a directory deleted at the same time (orphan)"
        if rc.status_code == 201:
            err(rd, 409, "not_empty")
            assert alice.names(d["id"]) == ["x"]
        else:
            err(rc, 404, "not_found")


def test_race_same_name_different_ids(server, alice, adir):
    for i in range(10):
        name = "same%d" % i
        res = _race(server, [lambda c: c.create(adir["id"], name, "file", expect=None)
                             for _ in range(4)])
        codes = sorted(r.status_code for r in res)
        assert codes == [201, 409, 409, 409], codes
    assert len(alice.names(adir["id"])) == 10
