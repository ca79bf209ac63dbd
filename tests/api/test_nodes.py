"""GET/POST/PATCH/DELETE /v1/nodes and children listings."""
import re
import time

import pytest

from conftest import ZERO_ID, check_node, err, new_id, ok


# ---- create

def test_create_dir(alice, adir):
    nid = new_id()
    r = alice.post("/v1/nodes", {"id": nid, "parent": adir["id"], "name": "docs", "type": "dir",
                                 "mode": 0o750, "uid": 1001, "gid": 1002,
                                 "mtime": 1700000000, "mtime_nsec": 123456789})
    n = check_node(ok(r, 201), id=nid, parent=adir["id"], name="docs", type="dir", mode=0o750,
                   uid=1001, gid=1002, mtime=1700000000, mtime_nsec=123456789, owner="alice")
    assert n.get("role", "owner") == "owner"
    assert alice.node(nid) == n or _same_node(alice.node(nid), n)


def _same_node(a, b):
    for k in ("id", "parent", "name", "type", "mode", "uid", "gid", "mtime", "mtime_nsec",
              "size", "rev", "content_rev", "owner"):
        assert a[k] == b[k], (k, a, b)
    return True


def test_create_file_is_empty(alice, adir):
    n = alice.mkfile(adir["id"], "empty.txt", mode=0o600)
    check_node(n, type="file", size=0, content_rev=0, mode=0o600, name="empty.txt")
    cm = alice.content(n["id"])
    assert cm["size"] == 0 and cm["count"] == 0 and cm["chunks"] == [], cm
    assert alice.download(n["id"]) == b""


def test_create_symlink(alice, adir):
    n = alice.create(adir["id"], "link", "symlink", target="../some/where", mode=0o777)
    check_node(n, type="symlink", target="../some/where")
    assert alice.node(n["id"])["target"] == "../some/where"
    long_target = "x" * 4095
    n2 = alice.create(adir["id"], "link2", "symlink", target=long_target)
    assert alice.node(n2["id"])["target"] == long_target


@pytest.mark.parametrize("target", [None, "", "y" * 4096])
def test_create_symlink_bad_target(alice, adir, target):
    r = alice.create(adir["id"], "badlink", "symlink", target=target, expect=None)
    err(r, 400)
    assert "badlink" not in alice.names(adir["id"])


def test_target_only_for_symlinks(alice, adir):
    r = alice.create(adir["id"], "d", "dir", target="x", expect=None)
    err(r, 400)


def test_create_default_mtime_is_now(alice, adir):
    before = time.time()
    n = alice.mkdir(adir["id"], "now")
    after = time.time()
    assert int(before) - 1 <= n["mtime"] <= after + 1, n
    assert int(before) - 1 <= n["ctime"] <= after + 1, n


def test_create_bad_type(alice, adir):
    err(alice.create(adir["id"], "x", "fifo", expect=None), 400)


def test_create_replay_is_idempotent(alice, adir):
    nid = new_id()
    body = {"id": nid, "parent": adir["id"], "name": "again", "type": "dir", "mode": 0o755,
            "uid": 1000, "gid": 1000}
    first = ok(alice.post("/v1/nodes", body), 201)
    second = ok(alice.post("/v1/nodes", body), 200)
    assert second["id"] == nid and second["rev"] == first["rev"], (first, second)
    assert alice.names(adir["id"]) == ["again"]


def test_create_same_id_different_name_409(alice, adir):
    nid = new_id()
    alice.mkdir(adir["id"], "one", id=nid)
    j = err(alice.mkdir(adir["id"], "two", id=nid, expect=None), 409, "exists")
    assert alice.names(adir["id"]) == ["one"]
    # same id elsewhere (other parent) is also taken
    other = alice.mkdir(adir["id"], "other")
    err(alice.mkdir(other["id"], "one", id=nid, expect=None), 409, "exists")
    # same id, same name, other type
    err(alice.mkfile(adir["id"], "one", id=nid, expect=None), 409, "exists")
    assert j


def test_create_name_clash_409_existing(alice, adir):
    a = alice.mkfile(adir["id"], "clash")
    j = err(alice.mkdir(adir["id"], "clash", expect=None), 409, "exists")
    assert j.get("existing") == a["id"], j
    j = err(alice.mkfile(adir["id"], "clash", expect=None), 409, "exists")
    assert j.get("existing") == a["id"], j


def test_create_in_missing_parent_404(alice):
    err(alice.mkdir(new_id(), "x", expect=None), 404, "not_found")


def test_create_under_zero_parent_refused(alice):
    r = alice.mkdir(ZERO_ID, "x", expect=None)
    err(r, (400, 403, 404))


def test_create_in_file_parent_409_not_dir(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.mkdir(f["id"], "x", expect=None), 409, "not_dir")


def test_create_id_zero_refused(alice, adir):
    err(alice.mkdir(adir["id"], "z", id=ZERO_ID, expect=None), 400, "invalid_id")


def test_create_id_equal_root_refused(alice, adir):
    err(alice.mkdir(adir["id"], "r", id=alice.root, expect=None), 409, "exists")


def test_create_names_ok(alice, adir):
    for name in ["a" * 255, "é" * 127 + "a", "with space", ".hidden", "...", "日本語",
                 "emoji-\U0001F600", "back\\slash", "new\nline", "tab\t", "-"]:
        n = alice.mkfile(adir["id"], name)
        assert n["name"] == name
        assert alice.node(n["id"])["name"] == name


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/", "a\u0000b", "a" * 256,
                                  "é" * 128, "x" * 1000, "trailing/"])
def test_create_invalid_name(alice, adir, name):
    # docs/api.md: a NUL anywhere in a JSON body is 400 bad_json
    err(alice.mkdir(adir["id"], name, expect=None), 400,
        "bad_json" if "\0" in name else "invalid_name")
    assert alice.names(adir["id"]) == []


# ---- get / children

def test_get_missing_404(alice):
    err(alice.get("/v1/nodes/%s" % new_id()), 404, "not_found")


def test_children_paging(alice, adir):
    names = ["f%02d" % i for i in range(25)]
    ids = {}
    for n in reversed(names):
        ids[n] = alice.mkfile(adir["id"], n)["id"]
    p1 = alice.children(adir["id"], limit=10)
    assert [e["name"] for e in p1["entries"]] == names[:10]
    assert p1["next"] == "f09"
    for e in p1["entries"]:
        check_node(e, parent=adir["id"], id=ids[e["name"]], type="file")
    p2 = alice.children(adir["id"], limit=10, after=p1["next"])
    assert [e["name"] for e in p2["entries"]] == names[10:20]
    assert p2["next"] == "f19"
    p3 = alice.children(adir["id"], limit=10, after=p2["next"])
    assert [e["name"] for e in p3["entries"]] == names[20:]
    assert p3["next"] is None
    full = alice.children(adir["id"])
    assert [e["name"] for e in full["entries"]] == names and full["next"] is None
    # "after" a name that does not exist starts after where it would sort
    p = alice.children(adir["id"], after="f105", limit=3)
    assert [e["name"] for e in p["entries"]] == ["f11", "f12", "f13"]
    # after the last name: empty page
    p = alice.children(adir["id"], after="f24")
    assert p["entries"] == [] and p["next"] is None


def test_children_exact_page_boundary(alice, adir):
    for i in range(4):
        alice.mkdir(adir["id"], "d%d" % i)
    p = alice.children(adir["id"], limit=2)
    assert [e["name"] for e in p["entries"]] == ["d0", "d1"] and p["next"] == "d1"
    p = alice.children(adir["id"], limit=2, after="d1")
    assert [e["name"] for e in p["entries"]] == ["d2", "d3"]
    if p["next"] is not None:   # allowed to be non-null at the exact end...
        p = alice.children(adir["id"], limit=2, after=p["next"])
        assert p["entries"] == [] and p["next"] is None  # ...but then the next page is empty


def test_children_sorted_bytewise(alice, adir):
    names = ["b", "B", "a", "Z", "_", "ä", "é", "z", "A1", "a0", "~", "0"]
    for n in names:
        alice.mkfile(adir["id"], n)
    got = alice.names(adir["id"])
    assert got == sorted(names, key=lambda s: s.encode("utf-8")), got


def test_children_of_file_409(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.get("/v1/nodes/%s/children" % f["id"]), 409, "not_dir")


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "10001", "99999999999999999999"])
def test_children_bad_limit(alice, adir, limit):
    r = alice.get("/v1/nodes/%s/children" % adir["id"], params={"limit": limit})
    if limit == "10001" and r.status_code == 200:
        # clamping to 10000 is an acceptable reading of "at most 10000"
        assert r.json()["entries"] == []
        return
    err(r, 400)


# ---- PATCH: rename / move / replace

def test_rename(alice, adir):
    f = alice.mkfile(adir["id"], "old.txt")
    j = alice.patch_node(f["id"], {"name": "new.txt"})
    check_node(j, id=f["id"], name="new.txt", parent=adir["id"])
    assert j["rev"] > f["rev"]
    assert j["content_rev"] == f["content_rev"]
    assert "replaced" not in j or j["replaced"] is None
    assert alice.names(adir["id"]) == ["new.txt"]
    assert alice.node(f["id"])["name"] == "new.txt"


def test_move(alice, adir):
    a = alice.mkdir(adir["id"], "a")
    b = alice.mkdir(adir["id"], "b")
    f = alice.mkfile(a["id"], "f")
    j = alice.patch_node(f["id"], {"parent": b["id"]})
    check_node(j, parent=b["id"], name="f")
    assert alice.names(a["id"]) == []
    assert alice.names(b["id"]) == ["f"]
    j = alice.patch_node(f["id"], {"parent": a["id"], "name": "g"})
    check_node(j, parent=a["id"], name="g")
    assert alice.names(a["id"]) == ["g"] and alice.names(b["id"]) == []
    # move a whole directory
    alice.patch_node(a["id"], {"parent": b["id"]})
    assert alice.names(b["id"]) == ["a"]
    assert alice.node(f["id"])["parent"] == a["id"]


def test_rename_to_same_name_is_noop(alice, adir):
    f = alice.mkfile(adir["id"], "same")
    j = ok(alice.patch("/v1/nodes/%s" % f["id"], {"name": "same"}))
    assert j["name"] == "same"
    assert alice.names(adir["id"]) == ["same"]


def test_rename_over_existing_without_replace_409(alice, adir):
    a = alice.mkfile(adir["id"], "a")
    b = alice.mkfile(adir["id"], "b")
    j = err(alice.patch("/v1/nodes/%s" % a["id"], {"name": "b"}), 409, "exists")
    assert j.get("existing") == b["id"], j
    err(alice.patch("/v1/nodes/%s" % a["id"], {"name": "b", "replace": False}), 409, "exists")
    assert alice.names(adir["id"]) == ["a", "b"]


def test_rename_replace_over_file(alice, adir):
    a = alice.write_file(adir["id"], "a.txt", b"AAAA")
    b = alice.write_file(adir["id"], "b.txt", b"BBBBBBBB")
    j = alice.patch_node(a["id"], {"name": "b.txt", "replace": True})
    check_node(j, id=a["id"], name="b.txt")
    assert isinstance(j.get("replaced"), dict), j
    assert j["replaced"]["id"] == b["id"], j
    err(alice.get("/v1/nodes/%s" % b["id"]), 404, "not_found")
    kids = alice.children(adir["id"])["entries"]
    assert [(e["name"], e["id"]) for e in kids] == [("b.txt", a["id"])]
    assert alice.download(a["id"]) == b"AAAA"


def test_replace_keeps_a_victim_changed_since(alice, adir):
    """replace names the node the caller replaced and the content it saw:
    a holder whose bytes the caller never saw is kept aside, not deleted."""
    a = alice.write_file(adir["id"], "a.txt", b"AAAA")
    b = alice.write_file(adir["id"], "b.txt", b"B1")
    seen = alice.node(b["id"])["content_rev"]
    alice.upload(b["id"], b"B2, written elsewhere", base_rev=seen)
    j = alice.patch_node(a["id"], {"name": "b.txt", "replace": True, "victim": b["id"],
                                   "victim_content_rev": seen})
    assert "replaced" not in j and j["kept"]["id"] == b["id"], j
    assert re.fullmatch(r"b \(conflicted copy \d{4}-\d\d-\d\d \d{6}\)\.txt",
                        j["kept"]["name"]), j
    names = dict((e["name"], e["id"]) for e in alice.children(adir["id"])["entries"])
    assert names["b.txt"] == a["id"] and names[j["kept"]["name"]] == b["id"], names
    assert alice.download(b["id"]) == b"B2, written elsewhere"


def test_replace_keeps_another_holder(alice, adir):
    a = alice.write_file(adir["id"], "a", b"A")
    b = alice.write_file(adir["id"], "b", b"B")
    # the caller replaced an older b that is gone; the name is c's now
    alice.patch_node(b["id"], {"name": "b-moved"})
    c = alice.write_file(adir["id"], "b", b"C")
    j = alice.patch_node(a["id"], {"name": "b", "replace": True, "victim": b["id"],
                                   "victim_content_rev": b["content_rev"]})
    assert j["kept"]["id"] == c["id"] and j["kept"]["name"].startswith("b (conflicted copy "), j
    assert alice.node(b["id"])["name"] == "b-moved"
    assert alice.download(c["id"]) == b"C"


def test_replace_with_the_victim_seen_deletes_it(alice, adir):
    a = alice.write_file(adir["id"], "a", b"A")
    b = alice.write_file(adir["id"], "b", b"B")
    j = alice.patch_node(a["id"], {"name": "b", "replace": True, "victim": b["id"],
                                   "victim_content_rev": alice.node(b["id"])["content_rev"]})
    assert j["replaced"]["id"] == b["id"] and "kept" not in j, j
    err(alice.get("/v1/nodes/%s" % b["id"]), 404, "not_found")


def test_replace_over_empty_dir(alice, adir):
    a = alice.mkdir(adir["id"], "a")
    alice.mkfile(a["id"], "inside")
    b = alice.mkdir(adir["id"], "b")
    j = alice.patch_node(a["id"], {"name": "b", "replace": True})
    assert j["replaced"]["id"] == b["id"]
    assert alice.names(adir["id"]) == ["b"]
    assert alice.names(a["id"]) == ["inside"]
    err(alice.get("/v1/nodes/%s" % b["id"]), 404, "not_found")


def test_replace_over_nonempty_dir_409(alice, adir):
    a = alice.mkdir(adir["id"], "a")
    b = alice.mkdir(adir["id"], "b")
    alice.mkfile(b["id"], "x")
    j = err(alice.patch("/v1/nodes/%s" % a["id"], {"name": "b", "replace": True}), 409,
            "not_empty")
    assert j["existing"] == b["id"], j
    assert alice.names(adir["id"]) == ["a", "b"]
    assert alice.names(b["id"]) == ["x"]


def test_replace_dir_over_file_409(alice, adir):
    d = alice.mkdir(adir["id"], "d")
    f = alice.mkfile(adir["id"], "f")
    # rename(2): a directory over a non-directory is ENOTDIR
    err(alice.patch("/v1/nodes/%s" % d["id"], {"name": "f", "replace": True}), 409, "not_dir")
    # rename(2): a non-directory over a directory is EISDIR
    err(alice.patch("/v1/nodes/%s" % f["id"], {"name": "d", "replace": True}), 409, "is_dir")
    assert alice.names(adir["id"]) == ["d", "f"]
    assert alice.node(d["id"])["type"] == "dir" and alice.node(f["id"])["type"] == "file"


def test_replace_symlink_over_file(alice, adir):
    s = alice.create(adir["id"], "s", "symlink", target="t")
    f = alice.mkfile(adir["id"], "f")
    j = alice.patch_node(s["id"], {"name": "f", "replace": True})
    assert j["replaced"]["id"] == f["id"]
    assert alice.names(adir["id"]) == ["f"]


def test_move_into_own_subtree_400(alice, adir):
    a = alice.mkdir(adir["id"], "a")
    b = alice.mkdir(a["id"], "b")
    c = alice.mkdir(b["id"], "c")
    for target in (c, b, a):
        err(alice.patch("/v1/nodes/%s" % a["id"], {"parent": target["id"]}), 400, "invalid_move")
    assert alice.node(a["id"])["parent"] == adir["id"]


def test_move_into_file_409(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    g = alice.mkfile(adir["id"], "g")
    err(alice.patch("/v1/nodes/%s" % g["id"], {"parent": f["id"]}), 409, "not_dir")


def test_move_to_missing_parent_404(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": new_id()}), 404, "not_found")


def test_root_cannot_be_renamed_moved_or_deleted(alice, adir):
    err(alice.patch("/v1/nodes/%s" % alice.root, {"name": "x"}), (400, 403))
    err(alice.patch("/v1/nodes/%s" % alice.root, {"parent": adir["id"]}), (400, 403))
    err(alice.delete("/v1/nodes/%s" % alice.root), 403, "forbidden")
    check_node(alice.node(alice.root), parent=ZERO_ID)


def test_shared_with_me_reserved_in_root_only(alice, adir):
    """Mounts show other users' shares as `Shared with me` in the root: no
    node may take that name there (it would be hidden), anywhere else may."""
    name = "Shared with me"
    for kind in ("dir", "file", "symlink"):
        err(alice.create(alice.root, name, kind, target="t" if kind == "symlink" else None,
                         expect=None), 409, "reserved")
    assert name not in alice.names(alice.root)
    f = alice.mkfile(adir["id"], "f")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": alice.root, "name": name}),
        409, "reserved")
    check_node(alice.node(f["id"]), parent=adir["id"], name="f")
    alice.patch("/v1/nodes/%s" % f["id"], {"name": name})          # not the root: fine
    assert alice.create(adir["id"], "x", "dir")["name"] == "x"
    err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": alice.root}), 409, "reserved")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\u0000", "n" * 256])
def test_rename_invalid_name(alice, adir, name):
    f = alice.mkfile(adir["id"], "f")
    err(alice.patch("/v1/nodes/%s" % f["id"], {"name": name}), 400,
        "bad_json" if "\0" in name else "invalid_name")
    assert alice.node(f["id"])["name"] == "f"


# ---- PATCH: attributes

def test_chmod(alice, adir):
    f = alice.mkfile(adir["id"], "f", mode=0o644)
    for mode in (0o600, 0o4755, 0o7777, 0, 0o1777):
        j = alice.patch_node(f["id"], {"mode": mode})
        assert j["mode"] == mode
        assert alice.node(f["id"])["mode"] == mode


@pytest.mark.parametrize("mode", [0o10000, -1, 0o100644, 2**63])
def test_chmod_out_of_range(alice, adir, mode):
    f = alice.mkfile(adir["id"], "f", mode=0o644)
    err(alice.patch("/v1/nodes/%s" % f["id"], {"mode": mode}), 400)
    assert alice.node(f["id"])["mode"] == 0o644


def test_chown(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    j = alice.patch_node(f["id"], {"uid": 0, "gid": 65534})
    assert (j["uid"], j["gid"]) == (0, 65534)
    j = alice.patch_node(f["id"], {"uid": 4000000000})
    assert (j["uid"], j["gid"]) == (4000000000, 65534)
    n = alice.node(f["id"])
    assert (n["uid"], n["gid"]) == (4000000000, 65534)
    assert n["owner"] == "alice"   # POSIX uid is not the account
    err(alice.patch("/v1/nodes/%s" % f["id"], {"uid": -1}), 400)


def test_utimes_exact(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    body = {"mtime": 1234567890, "mtime_nsec": 123456789,
            "atime": 1600000000, "atime_nsec": 999999999}
    j = alice.patch_node(f["id"], body)
    for k, v in body.items():
        assert j[k] == v, (k, j)
    n = alice.node(f["id"])
    for k, v in body.items():
        assert n[k] == v, (k, n)
    # far future (past 2038) and nanoseconds 0
    j = alice.patch_node(f["id"], {"mtime": 4102444800, "mtime_nsec": 1})
    assert (j["mtime"], j["mtime_nsec"]) == (4102444800, 1)
    assert (j["atime"], j["atime_nsec"]) == (1600000000, 999999999)


@pytest.mark.parametrize("body", [{"mtime_nsec": 1000000000}, {"atime_nsec": -1},
                                  {"mtime": 1.5}, {"mtime": "1700000000"}])
def test_utimes_bad(alice, adir, body):
    f = alice.mkfile(adir["id"], "f")
    err(alice.patch("/v1/nodes/%s" % f["id"], body), 400)


def test_ctime_and_rev_advance_on_change(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    time.sleep(1.05)
    j = alice.patch_node(f["id"], {"mode": 0o600})
    assert j["rev"] > f["rev"]
    assert (j["ctime"], j["ctime_nsec"]) > (f["ctime"], f["ctime_nsec"])
    j2 = alice.patch_node(f["id"], {"uid": 7})
    assert j2["rev"] > j["rev"]


def test_if_rev(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    j = alice.patch_node(f["id"], {"mode": 0o600, "if_rev": f["rev"]})
    assert j["mode"] == 0o600
    # now f["rev"] is stale
    e = err(alice.patch("/v1/nodes/%s" % f["id"], {"mode": 0o640, "if_rev": f["rev"]}),
            412, "rev_mismatch")
    check_node(e["node"], id=f["id"], rev=j["rev"], mode=0o600)
    assert alice.node(f["id"])["mode"] == 0o600
    err(alice.patch("/v1/nodes/%s" % f["id"], {"name": "g", "if_rev": j["rev"] + 1000}),
        412, "rev_mismatch")
    assert alice.node(f["id"])["name"] == "f"


def test_patch_missing_node_404(alice):
    nid = new_id()
    e = err(alice.patch("/v1/nodes/%s" % nid, {"mode": 0o600}), 404, "not_found")
    assert e["id"] == nid, e


def test_404_names_the_missing_node_of_a_move(alice, adir):
    """A client tells "my node is gone" from "its new directory is gone"."""
    f = alice.mkfile(adir["id"], "f")
    gone = new_id()
    e = err(alice.patch("/v1/nodes/%s" % f["id"], {"parent": gone}), 404, "not_found")
    assert e["id"] == gone, e
    e = err(alice.post("/v1/nodes", {"id": new_id(), "parent": gone, "name": "x",
                                      "type": "file"}), 404, "not_found")
    assert e["id"] == gone, e


# ---- DELETE

def test_delete(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    j = alice.delete_node(f["id"])
    assert isinstance(j["rev"], int) and j["rev"] > f["rev"], j
    err(alice.get("/v1/nodes/%s" % f["id"]), 404, "not_found")
    assert alice.names(adir["id"]) == []
    err(alice.delete("/v1/nodes/%s" % f["id"]), 404, "not_found")
    # the name and the id can be used again after the delete
    alice.mkfile(adir["id"], "f")


def test_delete_nonempty_dir_409(alice, adir):
    d = alice.mkdir(adir["id"], "d")
    x = alice.mkfile(d["id"], "x")
    err(alice.delete("/v1/nodes/%s" % d["id"]), 409, "not_empty")
    assert alice.names(d["id"]) == ["x"]
    alice.delete_node(x["id"])
    alice.delete_node(d["id"])
    assert alice.names(adir["id"]) == []


def test_delete_if_rev(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    j = alice.patch_node(f["id"], {"mode": 0o600})
    e = err(alice.delete("/v1/nodes/%s" % f["id"], params={"if_rev": f["rev"]}),
            412, "rev_mismatch")
    check_node(e["node"], id=f["id"], rev=j["rev"])
    alice.node(f["id"])
    alice.delete_node(f["id"], if_rev=j["rev"])
    err(alice.get("/v1/nodes/%s" % f["id"]), 404, "not_found")


def test_delete_if_content_rev(alice, adir):
    """A delete may say which content it saw: a file edited since is kept
    (412), while other changes (rename, chmod) do not stop it."""
    f = alice.write_file(adir["id"], "f", b"one")
    seen = alice.node(f["id"])["content_rev"]
    alice.patch_node(f["id"], {"name": "f2", "mode": 0o600})
    alice.upload(f["id"], b"two", base_rev=seen)
    e = err(alice.delete("/v1/nodes/%s" % f["id"], params={"if_content_rev": seen}),
            412, "rev_mismatch")
    check_node(e["node"], id=f["id"], name="f2")
    now = alice.node(f["id"])["content_rev"]
    # the same condition as a JSON body (what a batched delete can carry)
    err(alice.delete("/v1/nodes/%s" % f["id"], json={"if_content_rev": seen}), 412,
        "rev_mismatch")
    r = alice.post("/v1/batch", {"ops": [{"method": "DELETE", "path": "/v1/nodes/%s" % f["id"],
                                           "body": {"if_content_rev": seen}}]})
    assert ok(r)["results"][0]["status"] == 412
    alice.node(f["id"])
    alice.patch_node(f["id"], {"mode": 0o644})
    alice.delete("/v1/nodes/%s" % f["id"], json={"if_content_rev": now})
    err(alice.get("/v1/nodes/%s" % f["id"]), 404, "not_found")


def test_delete_body_fields_checked(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.delete("/v1/nodes/%s" % f["id"], json={"if_content_rev": "x"}), 400)
    err(alice.delete("/v1/nodes/%s" % f["id"], json={"force": True}), 400)
    alice.node(f["id"])


def test_delete_bad_if_rev(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    err(alice.delete("/v1/nodes/%s" % f["id"], params={"if_rev": "abc"}), 400)
    alice.node(f["id"])


def test_revs_are_global_and_increasing(alice, bob, adir):
    a = alice.mkfile(adir["id"], "a")
    b = bob.mkfile(bob.root, "rev-probe-" + new_id())
    c = alice.mkfile(adir["id"], "c")
    assert a["rev"] < b["rev"] < c["rev"]
    bob.delete_node(b["id"])
