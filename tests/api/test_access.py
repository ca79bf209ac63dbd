"""Another user gets 403/404 on every endpoint for nodes not shared with
them, and nothing changes."""
import pytest

from conftest import err, new_id, ok, rand_bytes


@pytest.fixture(scope="module")
def victim(alice):
    d = alice.mkdir(alice.root, "private-" + new_id())
    sub = alice.mkdir(d["id"], "sub")
    data = rand_bytes(70 * 1024)
    f = alice.write_file(d["id"], "secret.bin", data)
    alice.share(f["id"], ["carol"], "viewer")   # shared with someone else, not bob
    g = alice.mkfile(d["id"], "pending")
    sess = alice.open_upload(g["id"], [b"pending bytes"], 0)
    return {"dir": d, "sub": sub, "file": f, "data": data, "pending": g, "session": sess}


def _state(alice, v):
    return (alice.node(v["dir"]["id"]), alice.node(v["file"]["id"]), alice.names(v["dir"]["id"]),
            sorted(s["user"] for s in ok(alice.get("/v1/nodes/%s/shares" % v["file"]["id"]))["shares"]))


CASES = {
    "get dir": lambda b, v: b.get("/v1/nodes/%s" % v["dir"]["id"]),
    "get file": lambda b, v: b.get("/v1/nodes/%s" % v["file"]["id"]),
    "children": lambda b, v: b.get("/v1/nodes/%s/children" % v["dir"]["id"]),
    "children of sub": lambda b, v: b.get("/v1/nodes/%s/children" % v["sub"]["id"]),
    "patch rename": lambda b, v: b.patch("/v1/nodes/%s" % v["file"]["id"], {"name": "pwned"}),
    "patch chmod": lambda b, v: b.patch("/v1/nodes/%s" % v["file"]["id"], {"mode": 0o777}),
    "patch move to own root": lambda b, v: b.patch("/v1/nodes/%s" % v["file"]["id"],
                                                   {"parent": b.root}),
    "move own node into their dir": lambda b, v: b.patch(
        "/v1/nodes/%s" % b.mkfile(b.root, "mine-" + new_id())["id"], {"parent": v["dir"]["id"]}),
    "delete file": lambda b, v: b.delete("/v1/nodes/%s" % v["file"]["id"]),
    "delete sub": lambda b, v: b.delete("/v1/nodes/%s" % v["sub"]["id"]),
    "create in their dir": lambda b, v: b.create(v["dir"]["id"], "intruder", expect=None),
    "create file in their sub": lambda b, v: b.create(v["sub"]["id"], "x", "file", expect=None),
    "upload on their file": lambda b, v: b.open_upload(v["file"]["id"], [b"evil"],
                                                       v["file"]["content_rev"], expect=None),
    "get their upload session": lambda b, v: b.get("/v1/uploads/%s" % v["session"]["id"]),
    "commit their upload session": lambda b, v: b.post(
        "/v1/uploads/%s/commit" % v["session"]["id"]),
    "content": lambda b, v: b.get("/v1/nodes/%s/content" % v["file"]["id"]),
    "shares list": lambda b, v: b.get("/v1/nodes/%s/shares" % v["file"]["id"]),
    "shares add": lambda b, v: b.post("/v1/nodes/%s/shares" % v["file"]["id"],
                                      {"users": ["bob"], "role": "editor"}),
    "shares delete": lambda b, v: b.delete("/v1/nodes/%s/shares/carol" % v["file"]["id"]),
    "links": lambda b, v: b.post("/v1/nodes/%s/links" % v["file"]["id"], {"expires_in": 60}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_other_user_denied(alice, bob, victim, case):
    before = _state(alice, victim)
    r = CASES[case](bob, victim)
    err(r, (403, 404))
    after = _state(alice, victim)
    assert before == after, "bob's refused request changed alice's data"
    assert alice.download(victim["file"]["id"]) == victim["data"]
    body = r.text
    assert "secret.bin" not in body and "pending" not in body


def test_denials_reveal_nothing(alice, bob, victim):
    """A node that exists but is not shared answers like one that does not."""
    r1 = bob.get("/v1/nodes/%s" % victim["file"]["id"])
    r2 = bob.get("/v1/nodes/%s" % new_id())
    assert r1.status_code == r2.status_code == 404
    assert r1.json()["error"] == r2.json()["error"] == "not_found"


def test_id_of_other_users_node_is_taken(alice, bob, victim):
    # creating a node with an id alice already uses: refused, alice's node intact
    r = bob.create(bob.root, "copycat-" + new_id(), id=victim["file"]["id"], expect=None)
    assert r.status_code in (403, 404, 409), r.status_code
    err(r, r.status_code)
    assert alice.node(victim["file"]["id"])["name"] == "secret.bin"


def test_changes_do_not_leak(alice, bob, victim):
    cur = bob.latest()
    alice.patch_node(victim["sub"]["id"], {"mode": 0o700})
    j = bob.changes(cur)
    assert [c for c in j["changes"] if c["node"]["id"] == victim["sub"]["id"]] == []
