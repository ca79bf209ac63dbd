"""Sharing: roles, listings, revocation, subtrees."""
import pytest

from conftest import check_node, err, new_id, ok, rand_bytes, sha


def shares_of(c, nid):
    j = ok(c.get("/v1/nodes/%s/shares" % nid))
    return sorted((s["user"], s["role"]) for s in j["shares"])


def shared_with(c):
    j = ok(c.get("/v1/shared"))
    return {e["node"]["id"]: e for e in j["entries"]}


def test_viewer_reads_but_cannot_write(alice, bob, adir):
    data = rand_bytes(150 * 1024)
    f = alice.write_file(adir["id"], "view.bin", data)
    j = alice.share(f["id"], ["bob"], "viewer")
    assert ("bob", "viewer") in [(s["user"], s["role"]) for s in j["shares"]]
    n = bob.node(f["id"])
    check_node(n, id=f["id"], owner="alice", role="viewer", size=len(data))
    assert bob.download(f["id"]) == data
    # no writes of any kind
    err(bob.open_upload(f["id"], [b"bob was here"], f["content_rev"], expect=None),
        403, "forbidden")
    err(bob.patch("/v1/nodes/%s" % f["id"], {"mode": 0o600}), 403, "forbidden")
    err(bob.patch("/v1/nodes/%s" % f["id"], {"name": "renamed"}), 403, "forbidden")
    err(bob.delete("/v1/nodes/%s" % f["id"]), 403, "forbidden")
    err(bob.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}), 403, "forbidden")
    err(bob.share(f["id"], ["carol"], "viewer", expect=None), 403, "forbidden")
    err(bob.get("/v1/nodes/%s/shares" % f["id"]), 403, "forbidden")
    # a viewer cannot move the node into their own tree either
    err(bob.patch("/v1/nodes/%s" % f["id"], {"parent": bob.root}), 403, "forbidden")
    n2 = alice.node(f["id"])
    assert n2["name"] == "view.bin" and n2["mode"] == f["mode"] and n2["rev"] == f["rev"]
    assert alice.download(f["id"]) == data


def test_shared_listing(alice, bob, adir):
    f = alice.mkfile(adir["id"], "listed")
    alice.share(f["id"], ["bob"], "editor")
    e = shared_with(bob).get(f["id"])
    assert e is not None
    assert e["role"] == "editor" and e["owner"] == "alice"
    check_node(e["node"], id=f["id"], name="listed", owner="alice")
    assert f["id"] not in shared_with(alice)


def test_shares_list_and_role_change(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    assert shares_of(alice, f["id"]) == []
    alice.share(f["id"], ["bob", "carol"], "viewer")
    assert shares_of(alice, f["id"]) == [("bob", "viewer"), ("carol", "viewer")]
    j = alice.share(f["id"], ["carol"], "editor")
    assert sorted((s["user"], s["role"]) for s in j["shares"]) == \
        [("bob", "viewer"), ("carol", "editor")]
    assert shares_of(alice, f["id"]) == [("bob", "viewer"), ("carol", "editor")]
    # sharing twice is idempotent
    alice.share(f["id"], ["bob"], "viewer")
    assert shares_of(alice, f["id"]) == [("bob", "viewer"), ("carol", "editor")]


def test_editor_writes(alice, carol, adir):
    f = alice.write_file(adir["id"], "edit.txt", b"original")
    alice.share(f["id"], ["carol"], "editor")
    n = carol.node(f["id"])
    assert n["role"] == "editor"
    cj = carol.upload(f["id"], b"carol's new content", base_rev=n["content_rev"])
    assert cj["conflict"] is None
    check_node(cj["node"], owner="alice")
    assert alice.download(f["id"]) == b"carol's new content"
    j = carol.patch_node(f["id"], {"mode": 0o640, "mtime": 1600000000, "mtime_nsec": 5})
    assert j["mode"] == 0o640
    ok(carol.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    # an editor is not an owner
    err(carol.share(f["id"], ["bob"], "viewer", expect=None), 403, "forbidden")
    err(carol.get("/v1/nodes/%s/shares" % f["id"]), 403, "forbidden")
    # and cannot take the node into their own tree
    err(carol.patch("/v1/nodes/%s" % f["id"], {"parent": carol.root}), 403, "forbidden")
    assert alice.node(f["id"])["parent"] == adir["id"]


def test_revoke(alice, bob, adir):
    f = alice.write_file(adir["id"], "rev.txt", b"soon gone")
    alice.share(f["id"], ["bob"], "viewer")
    bob.node(f["id"])
    cm = bob.content(f["id"])
    j = ok(alice.delete("/v1/nodes/%s/shares/bob" % f["id"]))
    assert j == {}
    err(bob.get("/v1/nodes/%s" % f["id"]), 404, "not_found")
    err(bob.get("/v1/nodes/%s/content" % f["id"]), 404, "not_found")
    assert f["id"] not in shared_with(bob)
    assert shares_of(alice, f["id"]) == []
    err(alice.delete("/v1/nodes/%s/shares/bob" % f["id"]), 404, "not_found")
    err(alice.delete("/v1/nodes/%s/shares/nosuchuser" % f["id"]), 404, "not_found")
    assert cm["chunks"]


def test_shared_folder_subtree(alice, bob, carol, adir):
    d = alice.mkdir(adir["id"], "team")
    s = alice.mkdir(d["id"], "sub")
    data = b"deep file " * 100
    f = alice.write_file(s["id"], "deep.txt", data)
    alice.share(d["id"], ["bob"], "viewer")
    alice.share(d["id"], ["carol"], "editor")
    assert [e["name"] for e in bob.children(d["id"])["entries"]] == ["sub"]
    kids = bob.children(s["id"])["entries"]
    assert [e["name"] for e in kids] == ["deep.txt"]
    assert kids[0].get("role") == "viewer"
    check_node(bob.node(f["id"]), role="viewer", owner="alice")
    assert bob.download(f["id"]) == data
    # bob (viewer) cannot create inside; carol (editor) can, and alice owns it
    err(bob.mkdir(s["id"], "bobs", expect=None), 403, "forbidden")
    n = carol.mkfile(s["id"], "carols.txt")
    check_node(n, owner="alice", parent=s["id"])
    carol.upload(n["id"], b"from carol", base_rev=0)
    assert alice.download(n["id"]) == b"from carol"
    assert bob.download(n["id"]) == b"from carol"
    # carol can rename and delete inside the shared tree
    carol.patch_node(n["id"], {"name": "carols2.txt"})
    carol.delete_node(n["id"])
    assert alice.names(s["id"]) == ["deep.txt"]
    # moving out of the owner's tree into carol's own: forbidden
    err(carol.patch("/v1/nodes/%s" % f["id"], {"parent": carol.root}), 403, "forbidden")
    # the subtree is shared, but not the parent of the shared dir
    err(bob.get("/v1/nodes/%s" % adir["id"]), 404, "not_found")
    err(bob.get("/v1/nodes/%s/children" % adir["id"]), 404, "not_found")
    # GET /v1/shared lists the directly shared node only
    sh = shared_with(bob)
    assert d["id"] in sh and s["id"] not in sh and f["id"] not in sh
    # a node moved out of the shared tree is no longer visible
    alice.patch_node(f["id"], {"parent": adir["id"]})
    err(bob.get("/v1/nodes/%s" % f["id"]), 404, "not_found")
    # revoking the dir hides the subtree
    ok(alice.delete("/v1/nodes/%s/shares/bob" % d["id"]))
    err(bob.get("/v1/nodes/%s" % s["id"]), 404, "not_found")
    err(bob.get("/v1/nodes/%s/children" % d["id"]), 404, "not_found")


def test_cannot_move_own_node_into_another_owners_tree(alice, bob, adir):
    bd = bob.mkdir(bob.root, "bob-shared-" + new_id())
    bob.share(bd["id"], ["alice"], "editor")
    f = alice.mkfile(adir["id"], "mine")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": bd["id"]}), 403, "forbidden")
    assert alice.node(f["id"])["parent"] == adir["id"]
    # creating inside bob's shared dir is fine, and bob owns the result
    n = alice.mkfile(bd["id"], "for-bob")
    assert n["owner"] == "bob"
    assert bob.node(n["id"])["owner"] == "bob"


def test_share_with_unknown_user_404_changes_nothing(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.share(f["id"], ["nosuchuser"], "viewer", expect=None), 404, "not_found")
    err(alice.share(f["id"], ["bob", "nosuchuser"], "viewer", expect=None), 404, "not_found")
    assert shares_of(alice, f["id"]) == []


def test_share_with_self_400(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.share(f["id"], ["alice"], "viewer", expect=None), 400, "bad_request")
    assert shares_of(alice, f["id"]) == []


@pytest.mark.parametrize("body", [
    {"users": ["bob"], "role": "owner"},
    {"users": ["bob"], "role": "admin"},
    {"users": ["bob"]},
    {"role": "viewer"},
    {"users": "bob", "role": "viewer"},
    {"users": [5], "role": "viewer"},
    {"users": ["bob"], "role": "viewer", "extra": True},
])
def test_share_bad_body_400(alice, adir, body):
    f = alice.mkfile(adir["id"], "f")
    err(alice.post("/v1/nodes/%s/shares" % f["id"], body), 400)
    assert shares_of(alice, f["id"]) == []


def test_share_empty_user_list(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    r = alice.post("/v1/nodes/%s/shares" % f["id"], {"users": [], "role": "viewer"})
    if r.status_code == 200:
        assert r.json()["shares"] == []
    else:
        err(r, 400)


def test_non_owner_cannot_share(alice, bob, carol, adir):
    f = alice.mkfile(adir["id"], "f")
    # bob has no access at all
    err(bob.share(f["id"], ["carol"], "viewer", expect=None), (403, 404))
    alice.share(f["id"], ["bob"], "editor")
    err(bob.share(f["id"], ["carol"], "viewer", expect=None), 403, "forbidden")
    err(carol.get("/v1/nodes/%s" % f["id"]), 404, "not_found")
    assert shares_of(alice, f["id"]) == [("bob", "editor")]


def test_deleting_shared_node_removes_it_from_shared(alice, bob, adir):
    f = alice.mkfile(adir["id"], "gone")
    alice.share(f["id"], ["bob"], "viewer")
    assert f["id"] in shared_with(bob)
    alice.delete_node(f["id"])
    assert f["id"] not in shared_with(bob)
    err(bob.get("/v1/nodes/%s" % f["id"]), 404, "not_found")


def test_knowing_a_hash_does_not_grant_bytes_via_content(alice, bob, adir):
    data = rand_bytes(5000)
    f = alice.write_file(adir["id"], "private", data)
    err(bob.get("/v1/nodes/%s/content" % f["id"]), 404, "not_found")
    err(bob.get("/v1/chunks/%s" % sha(data)), 403, "bad_signature")
