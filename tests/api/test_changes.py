"""GET /v1/changes: events, cursors, paging, long-poll, visibility."""
import statistics
import threading
import time

import pytest

from conftest import check_node, err, new_id, ok


def events_for(changes, ids):
    return [c for c in changes["changes"] if c["node"]["id"] in ids]


def test_cursor_latest(alice):
    j = ok(alice.get("/v1/changes", params={"cursor": "latest"}))
    assert j["changes"] == [] and isinstance(j["cursor"], int)
    n = alice.mkdir(alice.root, "latest-" + new_id())
    j2 = ok(alice.get("/v1/changes", params={"cursor": "latest"}))
    assert j2["changes"] == [] and j2["cursor"] >= n["rev"] > j["cursor"]
    alice.delete_node(n["id"])


def test_events_create_rename_content_delete(alice, adir):
    cur = alice.latest()
    d = alice.mkdir(adir["id"], "d")
    f = alice.mkfile(d["id"], "f.txt")
    r = alice.patch_node(f["id"], {"name": "g.txt"})
    cj = alice.upload(f["id"], b"hello feed", base_rev=0)
    m = alice.patch_node(f["id"], {"mode": 0o600})
    dl = alice.delete_node(f["id"])
    j = alice.changes(cur)
    assert j["more"] is False
    seqs = [c["seq"] for c in j["changes"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert all(s > cur for s in seqs)
    assert j["cursor"] == seqs[-1]
    fe = events_for(j, {f["id"]})
    assert [e["op"] for e in fe] == ["upsert", "upsert", "upsert", "upsert", "delete"], fe
    check_node(fe[0]["node"], id=f["id"], name="f.txt", parent=d["id"], type="file",
               owner="alice")
    check_node(fe[1]["node"], name="g.txt")
    check_node(fe[2]["node"], size=len(b"hello feed"),
               content_rev=cj["node"]["content_rev"])
    check_node(fe[3]["node"], mode=0o600)
    check_node(fe[4]["node"], id=f["id"], name="g.txt")
    # an upsert's seq is the node's rev after that change; delete's is the answer's rev
    assert [e["seq"] for e in fe] == [f["rev"], r["rev"], cj["node"]["rev"], m["rev"], dl["rev"]]
    for e in fe[:4]:
        assert e["seq"] == e["node"]["rev"]
    de = events_for(j, {d["id"]})
    assert de and de[0]["op"] == "upsert" and de[0]["seq"] == d["rev"]
    check_node(de[0]["node"], id=d["id"], type="dir", name="d")
    # the cursor advances: nothing new afterwards
    j2 = alice.changes(j["cursor"])
    assert j2["changes"] == [] and j2["cursor"] == j["cursor"] and j2["more"] is False


def test_symlink_event_has_target(alice, adir):
    cur = alice.latest()
    s = alice.create(adir["id"], "ln", "symlink", target="a/b/c")
    ev = events_for(alice.changes(cur), {s["id"]})
    assert ev and ev[0]["node"]["target"] == "a/b/c"


def test_paging_with_limit(alice, adir):
    cur = alice.latest()
    ids = [alice.mkdir(adir["id"], "p%d" % i)["id"] for i in range(7)]
    seen = []
    pages = 0
    while True:
        j = alice.changes(cur, limit=2)
        pages += 1
        assert len(j["changes"]) <= 2
        seen += j["changes"]
        if j["changes"]:
            cur = j["cursor"]
        if not j["more"]:
            break
        assert len(j["changes"]) == 2
        assert pages < 20
    assert pages >= 4
    created = [c["node"]["id"] for c in seen if c["node"]["id"] in ids]
    assert created == ids


@pytest.mark.parametrize("params", [{"cursor": "abc"}, {"cursor": "-1"},
                                    {"cursor": "0", "limit": "abc"},
                                    {"cursor": "0", "wait": "abc"}, {"cursor": "0", "wait": "-1"},
                                    {"cursor": "0", "limit": "-5"}])
def test_bad_params_400(alice, params):
    err(alice.get("/v1/changes", params=params), 400)


def test_cursor_zero_returns_history(carol):
    j = carol.changes(0, limit=10000)
    assert isinstance(j["changes"], list)
    for c in j["changes"]:
        assert c["op"] in ("upsert", "delete", "share", "unshare")
        assert c["node"]["owner"] == "carol" or c["op"] in ("share", "unshare") \
            or c["node"].get("role") in ("viewer", "editor")


def test_long_poll_without_event_returns_after_wait(carol):
    cur = carol.latest()
    t0 = time.monotonic()
    j = carol.changes(cur, wait=2)
    dt = time.monotonic() - t0
    assert 1.7 <= dt <= 4.0, "long-poll with wait=2 took %.2f s" % dt
    assert j["changes"] == [] and j["cursor"] == cur


def test_long_poll_returns_at_once_when_events_exist(alice, adir):
    cur = alice.latest()
    alice.mkdir(adir["id"], "x")
    t0 = time.monotonic()
    j = alice.changes(cur, wait=30)
    assert time.monotonic() - t0 < 1.0
    assert j["changes"]


def test_long_poll_wakes_within_100ms(server, alice, adir):
    poller = server.client("alice")
    delays = []
    for i in range(5):
        cur = poller.latest()
        box = {}

        def poll():
            t = time.monotonic()
            box["j"] = poller.changes(cur, wait=30)
            box["done"] = time.monotonic()
            box["held"] = box["done"] - t

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        assert "done" not in box, "the long-poll returned before any event"
        n = alice.mkdir(adir["id"], "wake%d" % i)
        t_commit = time.monotonic()
        th.join(10)
        assert not th.is_alive(), "the long-poll was not woken by a commit"
        assert box["held"] >= 0.4
        assert n["id"] in [c["node"]["id"] for c in box["j"]["changes"]]
        delays.append(box["done"] - t_commit)
    print("long-poll wake-up delays:", ["%.4f" % d for d in delays])
    med = statistics.median(delays)
    assert med < 0.1, "long-poll wake-up delays %s (median %.3f s)" % (
        ["%.3f" % d for d in delays], med)
    assert max(delays) < 0.5, delays


def test_long_poll_woken_by_upload_commit(server, alice, adir):
    f = alice.mkfile(adir["id"], "f")
    poller = server.client("alice")
    cur = poller.latest()
    chunks = [b"long poll content"]
    s = alice.open_upload(f["id"], chunks, 0)
    alice.put_missing(s, chunks)
    box = {}

    def poll():
        box["j"] = poller.changes(cur, wait=30)
        box["done"] = time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    assert "done" not in box
    alice.commit(s["id"])
    t = time.monotonic()
    th.join(10)
    assert not th.is_alive()
    assert box["done"] - t < 0.2
    ev = events_for(box["j"], {f["id"]})
    assert ev and ev[-1]["node"]["size"] == len(chunks[0])


def test_other_users_events_are_invisible(alice, bob, adir):
    bcur = bob.latest()
    d = alice.mkdir(adir["id"], "secret")
    f = alice.write_file(d["id"], "s.txt", b"secret")
    alice.patch_node(f["id"], {"name": "t.txt"})
    j = bob.changes(bcur)
    assert events_for(j, {adir["id"], d["id"], f["id"]}) == []
    assert all(c["node"]["owner"] != "alice" for c in j["changes"]), j


def test_long_poll_not_woken_by_other_users(server, alice, bob, adir):
    poller = server.client("bob")
    cur = poller.latest()
    box = {}

    def poll():
        t = time.monotonic()
        box["j"] = poller.changes(cur, wait=2)
        box["held"] = time.monotonic() - t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    alice.mkdir(adir["id"], "not-for-bob")
    th.join(10)
    assert box["j"]["changes"] == [], box["j"]
    # an early empty answer is allowed only if it is at the full wait
    assert box["held"] >= 1.7, box


def test_share_and_unshare_events(alice, bob, adir):
    d = alice.mkdir(adir["id"], "shared-dir")
    bcur = bob.latest()
    alice.share(d["id"], ["bob"], "viewer")
    j = bob.changes(bcur)
    sh = [c for c in j["changes"] if c["op"] == "share"]
    assert len(sh) == 1, j
    assert sh[0]["node"]["id"] == d["id"] and sh[0]["role"] == "viewer"
    check_node(sh[0]["node"], owner="alice", type="dir", name="shared-dir")
    # events inside the shared subtree now reach bob
    bcur = j["cursor"]
    f = alice.write_file(d["id"], "inside.txt", b"for bob")
    j = bob.changes(bcur)
    ev = events_for(j, {f["id"]})
    assert ev and ev[0]["op"] == "upsert", j
    assert ev[-1]["node"]["size"] == len(b"for bob")
    assert ev[-1]["node"].get("role") == "viewer"
    # revoke: an unshare event, and nothing more afterwards
    bcur = j["cursor"]
    ok(alice.delete("/v1/nodes/%s/shares/bob" % d["id"]))
    j = bob.changes(bcur)
    un = [c for c in j["changes"] if c["op"] == "unshare"]
    assert len(un) == 1 and un[0]["node"]["id"] == d["id"], j
    bcur = j["cursor"]
    alice.mkfile(d["id"], "after-revoke")
    alice.patch_node(f["id"], {"mode": 0o600})
    j = bob.changes(bcur)
    assert j["changes"] == [], j


def test_share_event_wakes_long_poll(server, alice, adir):
    f = alice.mkfile(adir["id"], "f")
    poller = server.client("carol")
    cur = poller.latest()
    box = {}

    def poll():
        box["j"] = poller.changes(cur, wait=30)
        box["done"] = time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.4)
    alice.share(f["id"], ["carol"], "editor")
    t = time.monotonic()
    th.join(10)
    assert not th.is_alive()
    assert box["done"] - t < 0.2
    sh = [c for c in box["j"]["changes"] if c["op"] == "share"]
    assert sh and sh[0]["node"]["id"] == f["id"] and sh[0]["role"] == "editor"
    ok(alice.delete("/v1/nodes/%s/shares/carol" % f["id"]))


def test_many_long_polls_do_not_starve_the_server(server, alice, adir):
    """Every mount holds a long-poll open: 40 of them must not use up the
    server's threads, and one commit wakes them all."""
    n = 40
    pollers = [server.client("carol") for _ in range(n)]
    cur = pollers[0].latest()
    done = [None] * n
    results = [None] * n

    def poll(k):
        try:
            results[k] = pollers[k].changes(cur, wait=20)
        finally:
            done[k] = time.monotonic()

    ths = [threading.Thread(target=poll, args=(k,)) for k in range(n)]
    for t in ths:
        t.start()
    time.sleep(1.0)
    assert all(d is None for d in done), "a long-poll returned before any event"
    # the server still answers other requests at once
    t0 = time.monotonic()
    alice.me_ok()
    f = alice.mkfile(adir["id"], "f")
    assert time.monotonic() - t0 < 1.0, "requests stalled behind long-polls"
    # one event for carol wakes every one of them
    alice.share(f["id"], ["carol"], "viewer")
    t1 = time.monotonic()
    for t in ths:
        t.join(15)
    assert all(not t.is_alive() for t in ths)
    assert all(r is not None and any(c["op"] == "share" for c in r["changes"]) for r in results)
    slowest = max(done) - t1
    assert slowest < 0.5, "the last of %d long-polls woke after %.3f s" % (n, slowest)
    ok(alice.delete("/v1/nodes/%s/shares/carol" % f["id"]))
