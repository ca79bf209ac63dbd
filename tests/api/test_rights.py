"""Rights on every endpoint: an anonymous caller, a viewer, an editor and a
revoked user are refused what their role does not allow, and a refusal
changes nothing of the owner's data.

test_access.py covers a stranger on unshared nodes; this file covers the
roles of docs/api.md ("403 forbidden: the caller may see the node but not do
this", "404 not_found: ... no right to know it exists"). MATRIX names every
route of backend/routes.c, so a new endpoint without a rights test fails
test_every_route_is_in_the_matrix.

The world (see _build): alice owns
    top/shared-file.bin   F   shared: bob viewer, carol editor
    top/shared-dir/       D   shared: bob viewer, carol editor
        inner.bin         IF
        sub/              S
            deep.txt      DF
    top/empty-shared/     ED  shared: bob viewer, carol editor
dora was an editor of F, D and ED, opened an upload on F, sent its chunk,
and was revoked before committing. alice has an upload on F with every chunk
sent, not committed.
"""
import os
import re
import types
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import KiB, NODE_FIELDS, REPO, USERS, err, is_json, new_id, ok, rand_bytes, sha

DORA_PW = "dora-secret-pw"
WORLD = ("F", "D", "S", "IF", "DF", "ED")
SHARED = ("F", "D", "ED")
SESSION_KEYS = {"id", "node", "base_rev", "size", "expires", "state", "missing", "missing_bytes"}

ALLOW = "allow"
DENY = (403, "forbidden")
HIDE = (404, "not_found")


# --------------------------------------------------------------------------
# the world

def _build(alice, bob, carol, dora):
    w = types.SimpleNamespace(alice=alice,
                              callers={"viewer": bob, "editor": carol, "revoked": dora})
    w.cursor0 = {c.user: c.latest() for c in (bob, carol, dora)}
    top = alice.mkdir(alice.root, "rights-" + new_id())
    d = alice.mkdir(top["id"], "shared-dir")
    s = alice.mkdir(d["id"], "sub")
    ed = alice.mkdir(top["id"], "empty-shared")
    w.data = {"F": rand_bytes(70 * KiB), "IF": rand_bytes(3 * KiB), "DF": b"deep bytes"}
    f = alice.write_file(top["id"], "shared-file.bin", w.data["F"])
    inner = alice.write_file(d["id"], "inner.bin", w.data["IF"])
    deep = alice.write_file(s["id"], "deep.txt", w.data["DF"])
    w.ids = {"top": top["id"], "F": f["id"], "D": d["id"], "S": s["id"], "IF": inner["id"],
             "DF": deep["id"], "ED": ed["id"]}
    for k in SHARED:
        alice.share(w.ids[k], ["bob"], "viewer")
        alice.share(w.ids[k], ["carol", "dora"], "editor")
    w.mine = {c.user: c.mkfile(c.root, "mine-" + new_id())["id"] for c in (bob, carol, dora)}
    chunks = [rand_bytes(4 * KiB)]
    w.alice_session = alice.open_upload(f["id"], chunks, f["content_rev"])
    alice.put_missing(w.alice_session, chunks)
    # dora edits while she may: her feed gets an event of IF, and an upload
    # that only her rights keep from committing
    alice.patch_node(inner["id"], {"mode": 0o600})
    chunks = [rand_bytes(5 * KiB)]
    w.dora_session = dora.open_upload(f["id"], chunks, f["content_rev"])
    dora.put_missing(w.dora_session, chunks)
    for k in SHARED:
        ok(alice.delete("/v1/nodes/%s/shares/dora" % w.ids[k]))
    return w


@pytest.fixture(scope="module")
def dora(server):
    server.useradd("dora", DORA_PW, check=False)
    return server.client("dora", DORA_PW)


@pytest.fixture(scope="module")
def _worlds(alice, bob, carol, dora):
    return {"build": lambda: _build(alice, bob, carol, dora), "world": None}


@pytest.fixture
def world(_worlds, request):
    """Shared by the tests whose request must change nothing; built again
    after a failed test, whose request may have changed it."""
    if _worlds["world"] is None:
        _worlds["world"] = _worlds["build"]()
    failed = request.session.testsfailed
    yield _worlds["world"]
    if request.session.testsfailed != failed:
        _worlds["world"] = None


@pytest.fixture
def fresh_world(alice, bob, carol, dora):
    """For requests that change the world (allowed writes)."""
    return _build(alice, bob, carol, dora)


def _raw(a, path):
    r = a.get(path)
    return r.status_code, (r.json() if is_json(r) else r.content)


def _state(w):
    """alice's view: metadata, listings, bytes and share lists of the world."""
    a = w.alice
    nodes = {k: _raw(a, "/v1/nodes/%s" % w.ids[k]) for k in WORLD}
    names = {}
    for k in ("top", "D", "S", "ED"):
        st, j = _raw(a, "/v1/nodes/%s/children?limit=10000" % w.ids[k])
        names[k] = (st, [e["name"] for e in j["entries"]] if st == 200 else j)
    data = {k: a.download(w.ids[k]) if nodes[k][0] == 200 else None for k in ("F", "IF", "DF")}
    shares = {}
    for k in WORLD:
        st, j = _raw(a, "/v1/nodes/%s/shares" % w.ids[k])
        shares[k] = (st, sorted((s["user"], s["role"]) for s in j["shares"]) if st == 200 else j)
    return nodes, names, data, shares


def _assert_unchanged(w, before, cursor):
    after = _state(w)
    ids = set(w.ids.values())
    evs = [e for e in w.alice.changes(cursor, limit=10000)["changes"] if e["node"]["id"] in ids]
    assert after == before, "a refused request changed alice's data"
    assert evs == [], "a refused request made change events: %r" % evs


# --------------------------------------------------------------------------
# requests (c: the caller, w: the world)

def _node(w, k, tail=""):
    return "/v1/nodes/%s%s" % (w.ids[k], tail)


def _create(c, w, parent, name, type="dir", id=None):
    body = {"id": id or new_id(), "parent": w.ids[parent], "name": name, "type": type,
            "mode": 0o755 if type == "dir" else 0o644, "uid": 1000, "gid": 1000}
    return c.post("/v1/nodes", body)


class _Result:
    """One operation's answer inside POST /v1/batch, read like a response."""

    def __init__(self, res, outer):
        self.status_code, self._body = res["status"], res["body"]
        self.headers, self.text = outer.headers, str(res["body"])
        self.content = self.text.encode()
        self.request = outer.request

    def json(self):
        return self._body


def _batch(c, ops):
    """POST /v1/batch; the answer of its last operation (the batch stops at
    the first that fails), or the batch's own answer when it is refused."""
    r = c.post("/v1/batch", {"ops": ops})
    if r.status_code != 200:
        return r
    results = r.json()["results"]
    assert 1 <= len(results) <= len(ops), results
    return _Result(results[-1], r)


def _batch_create(c, w, parent, name):
    body = {"id": new_id(), "parent": w.ids[parent], "name": name, "type": "dir",
            "mode": 0o755, "uid": 1000, "gid": 1000}
    return _batch(c, [{"method": "POST", "path": "/v1/nodes", "body": body}])


def _other(c):
    """Another recipient of the shares of F, D and ED."""
    return "bob" if c.user == "carol" else "carol"


def _mine(c, w):
    return w.mine.get(c.user, w.mine["bob"])   # anonymous callers: any well-formed id


def _upload_open(c, w, k):
    chunks = [b"written by " + (c.user or "nobody").encode()]
    body = {"node": w.ids[k], "base_rev": 0, "size": len(chunks[0]),
            "chunks": [{"hash": sha(chunks[0]), "size": len(chunks[0])}]}
    return c.post("/v1/uploads", body)


# --------------------------------------------------------------------------
# checks of allowed requests: (response, caller, world, role)

def _same_node(k):
    def check(r, c, w, role):
        j, want = r.json(), w.alice.node(w.ids[k])
        assert {f: j[f] for f in NODE_FIELDS} == {f: want[f] for f in NODE_FIELDS}
        assert j["role"] == role
    return check


def _same_children(k):
    def check(r, c, w, role):
        entries, want = r.json()["entries"], w.alice.names(w.ids[k])
        assert want and [e["name"] for e in entries] == want
        assert {e["role"] for e in entries} == {role}
    return check


def _same_content(k):
    def check(r, c, w, role):
        assert r.json()["size"] == len(w.data[k])
        assert c.download(w.ids[k]) == w.data[k]
    return check


def _link_serves(k):
    def check(r, c, w, role):
        got = c.get(r.json()["url"], auth=False)
        assert got.status_code == 200 and got.content == w.data[k]
    return check


def _session_of(k):
    def check(r, c, w, role):
        j = r.json()
        assert j["node"] == w.ids[k] and j["state"] == "open"
    return check


def _replayed(r, c, w, role):
    assert r.status_code == 200, "a replay answers the existing node with 200"
    assert r.json()["id"] == w.ids["IF"] and r.json()["owner"] == "alice"


def _shared_list(r, c, w, role):
    got = {e["node"]["id"]: e["role"] for e in r.json()["entries"]}
    ids = [w.ids[k] for k in SHARED]
    want = {} if role == "revoked" else {i: role for i in ids}
    assert {i: got[i] for i in ids if i in got} == want


def _feed_since_world(r, c, w, role):
    j = r.json()
    assert j["more"] is False
    evs = [e for e in j["changes"] if e["node"]["id"] in w.ids.values()]
    ops = [(e["op"], e["node"]["id"]) for e in evs]
    for k in SHARED:
        assert ("share", w.ids[k]) in ops, ops
    if role == "revoked":
        # the upsert she saw while an editor, then the unshares and nothing after
        assert ("upsert", w.ids["IF"]) in ops, ops
        first = [e["op"] for e in evs].index("unshare")
        assert sorted(ops[first:]) == sorted(("unshare", w.ids[k]) for k in SHARED), ops
    else:
        assert all(e.get("role", role) == role for e in evs if e["op"] == "share"), evs


def _own_session_only(r, c, w, role):
    """docs: the opener sees its session; it carries no node metadata."""
    j = r.json()
    assert set(j) == SESSION_KEYS, j
    assert j["node"] == w.ids["F"] and j["state"] == "open" and j["missing"] == []


# --------------------------------------------------------------------------
# the matrix

class Case:
    """One request and what each role gets: ALLOW, DENY (403), HIDE (404),
    or None (not a rights question for that role). `writes`: an allowed
    request must change alice's state."""

    def __init__(self, call, viewer=None, editor=None, revoked=None, writes=False, check=None):
        self.call, self.writes, self.check = call, writes, check
        self.want = {"viewer": viewer, "editor": editor, "revoked": revoked}


class Route:
    """A route's cases, or why it takes no token (then PUBLIC_CHECKS has its check)."""

    def __init__(self, cases=None, public=None):
        self.cases, self.public = cases or {}, public


def C(call, v=None, e=None, r=None, **kw):
    return Case(call, viewer=v, editor=e, revoked=r, **kw)


MATRIX = {
    ("POST", "/v1/login"): Route(public="the password is the credential; checked with wrong ones"),
    ("POST", "/v1/logout"): Route({
        "logout": C(lambda c, w: c.post("/v1/logout")),   # own token only: anonymous case alone
    }),
    ("GET", "/v1/me"): Route({
        "me": C(lambda c, w: c.get("/v1/me")),
    }),
    ("POST", "/v1/nodes"): Route({
        "create dir in D": C(lambda c, w: _create(c, w, "D", "new-dir"), DENY, ALLOW, HIDE,
                             writes=True),
        "create file in S": C(lambda c, w: _create(c, w, "S", "new-file", "file"), DENY, ALLOW,
                              HIDE, writes=True),
        "create dir in ED": C(lambda c, w: _create(c, w, "ED", "new-dir"), DENY, ALLOW, HIDE,
                              writes=True),
        "create under F": C(lambda c, w: _create(c, w, "F", "x", "file"), DENY, None, HIDE),
        "replay the create of IF": C(lambda c, w: _create(c, w, "D", "inner.bin", "file",
                                                          id=w.ids["IF"]),
                                     DENY, ALLOW, HIDE, check=_replayed),
    }),
    ("GET", "/v1/nodes/{id}"): Route({
        "get %s" % k: C(lambda c, w, k=k: c.get(_node(w, k)), ALLOW, ALLOW, HIDE,
                        check=_same_node(k)) for k in WORLD
    }),
    ("PATCH", "/v1/nodes/{id}"): Route({
        "rename IF": C(lambda c, w: c.patch(_node(w, "IF"), {"name": "pwned"}), DENY, ALLOW, HIDE,
                       writes=True),
        "chmod F": C(lambda c, w: c.patch(_node(w, "F"), {"mode": 0o777}), DENY, ALLOW, HIDE,
                     writes=True),
        "utimes D": C(lambda c, w: c.patch(_node(w, "D"), {"mtime": 1, "mtime_nsec": 2}),
                      DENY, ALLOW, HIDE, writes=True),
        "chown DF": C(lambda c, w: c.patch(_node(w, "DF"), {"uid": 0, "gid": 0}), DENY, ALLOW,
                      HIDE, writes=True),
        "move IF into S": C(lambda c, w: c.patch(_node(w, "IF"), {"parent": w.ids["S"]}),
                            DENY, ALLOW, HIDE, writes=True),
        "move IF to the caller's root": C(
            lambda c, w: c.patch(_node(w, "IF"), {"parent": c.root or w.ids["top"]}),
            DENY, DENY, HIDE),
        "move S to the caller's root": C(
            lambda c, w: c.patch(_node(w, "S"), {"parent": c.root or w.ids["top"]}),
            DENY, DENY, HIDE),
        # a share root's directory is its owner's: as rename(2) needs write
        # access to the source directory, an editor may not rename or move it
        "move F to alice's root": C(
            lambda c, w: c.patch(_node(w, "F"), {"parent": w.alice.root}), DENY, DENY, HIDE),
        "rename share root F": C(lambda c, w: c.patch(_node(w, "F"), {"name": "pwned"}),
                                 DENY, DENY, HIDE),
        "rename share root D": C(lambda c, w: c.patch(_node(w, "D"), {"name": "pwned"}),
                                 DENY, DENY, HIDE),
        "move share root D into ED": C(lambda c, w: c.patch(_node(w, "D"), {"parent": w.ids["ED"]}),
                                       DENY, DENY, HIDE),
        "move caller's own file into D": C(
            lambda c, w: c.patch("/v1/nodes/%s" % _mine(c, w), {"parent": w.ids["D"]}),
            DENY, DENY, HIDE),
    }),
    ("DELETE", "/v1/nodes/{id}"): Route({
        "delete IF": C(lambda c, w: c.delete(_node(w, "IF")), DENY, ALLOW, HIDE, writes=True),
        "delete DF": C(lambda c, w: c.delete(_node(w, "DF")), DENY, ALLOW, HIDE, writes=True),
        "delete S": C(lambda c, w: c.delete(_node(w, "S")), DENY, None, HIDE),
        # as unlink(2): the share root's directory is not the editor's
        "delete share root F": C(lambda c, w: c.delete(_node(w, "F")), DENY, DENY, HIDE),
        "delete share root ED": C(lambda c, w: c.delete(_node(w, "ED")), DENY, DENY, HIDE),
    }),
    # each operation is checked as if it came alone, with the batch's caller
    ("POST", "/v1/batch"): Route({
        "batch: create dir in D": C(lambda c, w: _batch_create(c, w, "D", "b-dir"),
                                    DENY, ALLOW, HIDE, writes=True),
        "batch: rename IF": C(lambda c, w: _batch(c, [{"method": "PATCH", "path": _node(w, "IF"),
                                                       "body": {"name": "pwned"}}]),
                              DENY, ALLOW, HIDE, writes=True),
        "batch: delete DF": C(lambda c, w: _batch(c, [{"method": "DELETE", "path": _node(w, "DF")}]),
                              DENY, ALLOW, HIDE, writes=True),
        "batch: delete share root F": C(lambda c, w: _batch(
            c, [{"method": "DELETE", "path": _node(w, "F")}]), DENY, DENY, HIDE),
        "batch: own node, then delete IF": C(lambda c, w: _batch(
            c, [{"method": "PATCH", "path": "/v1/nodes/%s" % _mine(c, w), "body": {"mode": 0o600}},
                {"method": "DELETE", "path": _node(w, "IF")}]), DENY, ALLOW, HIDE, writes=True),
    }),
    ("GET", "/v1/nodes/{id}/children"): Route({
        "children of %s" % k: C(lambda c, w, k=k: c.get(_node(w, k, "/children")), ALLOW, ALLOW,
                                HIDE, check=_same_children(k)) for k in ("D", "S")
    }),
    ("GET", "/v1/nodes/{id}/content"): Route({
        "content of %s" % k: C(lambda c, w, k=k: c.get(_node(w, k, "/content")), ALLOW, ALLOW,
                               HIDE, check=_same_content(k)) for k in ("F", "IF", "DF")
    }),
    ("POST", "/v1/uploads"): Route({
        "open upload on %s" % k: C(lambda c, w, k=k: _upload_open(c, w, k), DENY, ALLOW, HIDE,
                                   check=_session_of(k)) for k in ("F", "IF")
    }),
    ("GET", "/v1/uploads/{upload}"): Route({
        "get alice's session": C(lambda c, w: c.get("/v1/uploads/%s" % w.alice_session["id"]),
                                 HIDE, HIDE, HIDE),
        "get dora's session": C(lambda c, w: c.get("/v1/uploads/%s" % w.dora_session["id"]),
                                HIDE, HIDE, ALLOW, check=_own_session_only),
    }),
    ("POST", "/v1/uploads/{upload}/commit"): Route({
        # sessions belong to their opener, even for an editor of the node
        "commit alice's session": C(
            lambda c, w: c.post("/v1/uploads/%s/commit" % w.alice_session["id"]), HIDE, HIDE, HIDE),
        "commit dora's pre-revoke session": C(
            lambda c, w: c.post("/v1/uploads/%s/commit" % w.dora_session["id"]), HIDE, HIDE, HIDE),
    }),
    ("PUT", "/v1/chunks/{hash}"): Route(public="the signed PUT URL from POST /v1/uploads is "
                                               "the authorisation; checked unsigned and forged"),
    ("GET", "/v1/chunks/{hash}"): Route(public="the signed GET URL from /content is the "
                                               "authorisation; checked unsigned and forged"),
    ("GET", "/v1/changes"): Route({
        "changes since the world was built": C(
            lambda c, w: c.get("/v1/changes", params={"cursor": w.cursor0.get(c.user, 0),
                                                      "limit": 10000}),
            ALLOW, ALLOW, ALLOW, check=_feed_since_world),
    }),
    ("POST", "/v1/nodes/{id}/shares"): Route({
        "grant self editor on F": C(lambda c, w: c.share(w.ids["F"], [c.user], "editor",
                                                         expect=None), DENY, DENY, HIDE),
        "grant dora editor on D": C(lambda c, w: c.share(w.ids["D"], ["dora"], "editor",
                                                         expect=None), DENY, DENY, HIDE),
        "grant dora viewer on IF": C(lambda c, w: c.share(w.ids["IF"], ["dora"], "viewer",
                                                          expect=None), DENY, DENY, HIDE),
        "set the other recipient's role on ED": C(
            lambda c, w: c.share(w.ids["ED"], [_other(c)], "viewer", expect=None),
            DENY, DENY, HIDE),
    }),
    ("GET", "/v1/nodes/{id}/shares"): Route({
        "list shares of %s" % k: C(lambda c, w, k=k: c.get(_node(w, k, "/shares")), DENY, DENY,
                                   HIDE) for k in ("F", "D", "IF")
    }),
    ("DELETE", "/v1/nodes/{id}/shares/{user}"): Route({
        "revoke the other recipient on %s" % k: C(
            lambda c, w, k=k: c.delete(_node(w, k, "/shares/" + _other(c))), DENY, DENY, HIDE)
        for k in ("F", "D", "IF")
    }),
    ("GET", "/v1/shared"): Route({
        "shared with me": C(lambda c, w: c.get("/v1/shared"), ALLOW, ALLOW, ALLOW,
                            check=_shared_list),
    }),
    ("POST", "/v1/nodes/{id}/links"): Route({
        # docs/api.md: "Files only; owner or editor"
        "link %s" % k: C(lambda c, w, k=k: c.post(_node(w, k, "/links"), {"expires_in": 60}),
                         DENY, ALLOW, HIDE, check=_link_serves(k)) for k in ("F", "IF")
    }),
    ("GET", "/v1/links/{id}"): Route(public="the signed link is the authorisation; checked "
                                            "unsigned, forged and moved to another node"),
}

ROUTE_LINE = re.compile(r'^\s*\{"([A-Z]+)",\s*"([^"]+)",\s*([^,]+),', re.M)


def _routes_c():
    """(method, path) -> needs a token, from backend/routes.c."""
    with open(os.path.join(REPO, "backend", "routes.c")) as f:
        text = f.read()
    return {(m, p): bool(re.search(r"\b(ROUTE_)?AUTH\b", flags))
            for m, p, flags in ROUTE_LINE.findall(text)}


def test_every_route_is_in_the_matrix():
    """A new endpoint fails here until this file says who may call it."""
    routes = _routes_c()
    assert len(routes) >= 20, "routes.c parsed to %r: the pattern is out of date" % routes
    assert sorted(set(routes) - set(MATRIX)) == [], "routes with no rights test"
    assert sorted(set(MATRIX) - set(routes)) == [], "matrix rows for routes that are gone"
    for key, auth in routes.items():
        route = MATRIX[key]
        if not auth:
            assert route.public, "%s %s takes no token: say why in MATRIX" % key
            assert key in PUBLIC_CHECKS, "%s %s: public with no forged-request check" % key
            continue
        assert route.public is None and route.cases, "%s %s needs a token: give it cases" % key
        if "{id}" in key[1] or "{upload}" in key[1]:
            for role in ("viewer", "editor", "revoked"):
                assert any(c.want[role] for c in route.cases.values()), (key, role)


def _params(role):
    out = []
    for key, route in MATRIX.items():
        for name, case in route.cases.items():
            if case.want[role] is None:
                continue
            out.append(pytest.param(key, name, id="%s %s: %s" % (key + (name,))))
    return out


def _run(request, role, key, name):
    case = MATRIX[key].cases[name]
    want = case.want[role]
    changes = want == ALLOW and case.writes
    w = request.getfixturevalue("fresh_world" if changes else "world")
    c = w.callers[role]
    cursor = w.alice.latest()
    before = _state(w)
    r = case.call(c, w)
    if want == ALLOW:
        ok(r, (200, 201))
        if case.check:
            case.check(r, c, w, role)
        if case.writes:
            assert _state(w) != before, "the allowed write did not reach alice's data"
            return
    else:
        err(r, *want)
    _assert_unchanged(w, before, cursor)


@pytest.mark.parametrize("key,name", _params("viewer"))
def test_viewer(request, key, name):
    """bob, a viewer of F, D (and so of D's subtree) and ED: reads, never writes."""
    _run(request, "viewer", key, name)


@pytest.mark.parametrize("key,name", _params("editor"))
def test_editor(request, key, name):
    """carol, an editor: writes inside what is shared, but does not share,
    unshare, or take nodes out of alice's tree."""
    _run(request, "editor", key, name)


@pytest.mark.parametrize("key,name", _params("revoked"))
def test_revoked(request, key, name):
    """dora, an editor whose shares were revoked: the nodes are gone for her."""
    _run(request, "revoked", key, name)


# --------------------------------------------------------------------------
# no token

AUTH_ROUTES = [k for k, r in MATRIX.items() if r.public is None]


@pytest.mark.parametrize("key", AUTH_ROUTES, ids=" ".join)
def test_anonymous_401(server, world, key):
    """Every request of a token route, without a token or with a bad one,
    is 401 before anything else is looked at."""
    cursor = world.alice.latest()
    before = _state(world)
    for token in (None, "garbage", "0" * 64):
        c = server.client()
        c.token = token
        for case in MATRIX[key].cases.values():
            err(case.call(c, world), 401, "unauthorized")
    _assert_unchanged(world, before, cursor)


# --------------------------------------------------------------------------
# the public routes: what stands in for the token is checked

def parts(url):
    u = urlsplit(url)
    return u.path, {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}


def build(path, q):
    return path + "?" + urlencode(q)


def flip(s):
    return s[:-1] + ("0" if s[-1] != "0" else "1")


def _check_login(server, bob, w):
    c = server.client()
    for body in ({"user": "alice", "password": "wrong"},
                 {"user": "alice", "password": USERS["bob"]},
                 {"user": "nobody-" + new_id(), "password": USERS["alice"]}):
        j = err(c.post("/v1/login", body, auth=False), 401, "unauthorized")
        assert "token" not in j
    err(c.post("/v1/login", {"user": "alice"}, auth=False), 400, "bad_request")


def _check_chunk_put(server, bob, w):
    a = w.alice
    data = rand_bytes(6 * KiB)
    sess = a.open_upload(w.ids["F"], [data], a.node(w.ids["F"])["content_rev"])
    path, q = parts(sess["missing"][0]["url"])
    anon = server.client()
    for query in (None, dict(q, sig=flip(q["sig"])), dict(q, exp=str(int(q["exp"]) + 1)),
                  dict(q, u=str(int(q["u"]) + 1)),                  # credited to another account
                  {k: v for k, v in q.items() if k != "u"}):
        r = anon.put(build(path, query) if query else path, data=data, auth=False)
        err(r, 403, "bad_signature")
    err(bob.put(path, data=data), 403, "bad_signature")      # a token is no signature
    # a GET signature of a stored chunk, used to PUT it
    c0 = a.content(w.ids["F"])["chunks"][0]
    get_path, get_q = parts(c0["url"])
    err(anon.put(build(get_path, get_q), data=w.data["F"][:c0["size"]], auth=False),
        403, "bad_signature")
    assert [m["hash"] for m in ok(a.get("/v1/uploads/%s" % sess["id"]))["missing"]] == [sha(data)]


def _check_chunk_get(server, bob, w):
    cm = w.alice.content(w.ids["F"])
    c0, c1 = cm["chunks"][0], cm["chunks"][1]
    path, q = parts(c0["url"])
    # bob names alice's chunk in an upload of his own: a PUT URL for that chunk
    bs = ok(bob.post("/v1/uploads", {"node": w.mine["bob"], "base_rev": 0, "size": c0["size"],
                                     "chunks": [{"hash": c0["hash"], "size": c0["size"]}]}))
    put_path, put_q = parts(bs["missing"][0]["url"])
    assert put_path == path
    anon = server.client()
    for p, query in ((path, None), (path, dict(q, sig=flip(q["sig"]))),
                     (path, dict(q, exp=str(int(q["exp"]) + 1))),
                     ("/v1/chunks/%s" % c1["hash"], q),      # another chunk's signature
                     (path, put_q)):                         # a PUT signature, on GET
        r = anon.get(build(p, query) if query else p, auth=False)
        err(r, 403, "bad_signature")
    err(bob.get(path), 403, "bad_signature")     # a viewer's token is no signature


def _check_link_get(server, bob, w):
    j = ok(w.alice.post(_node(w, "F", "/links"), {"expires_in": 60}))
    path, q = parts(j["url"])
    anon = server.client()
    for p, query in ((path, None), (path, dict(q, sig=flip(q["sig"]))),
                     (path, dict(q, exp=str(int(q["exp"]) + 1))),
                     (_node(w, "IF").replace("/nodes/", "/links/"), q)):
        err(anon.get(build(p, query) if query else p, auth=False), 403, "bad_signature")
        assert anon.s.head(anon.url(build(p, query) if query else p), timeout=10).status_code == 403
    err(bob.get(path), 403, "bad_signature")
    assert anon.get(j["url"], auth=False).content == w.data["F"]   # the real link works


PUBLIC_CHECKS = {
    ("POST", "/v1/login"): _check_login,
    ("PUT", "/v1/chunks/{hash}"): _check_chunk_put,
    ("GET", "/v1/chunks/{hash}"): _check_chunk_get,
    ("GET", "/v1/links/{id}"): _check_link_get,
}


@pytest.mark.parametrize("key", sorted(PUBLIC_CHECKS), ids=" ".join)
def test_public_route_refuses_forgeries(server, bob, world, key):
    """Routes without a token: a missing, forged or borrowed credential is
    refused, and alice's data is untouched."""
    cursor = world.alice.latest()
    before = _state(world)
    PUBLIC_CHECKS[key](server, bob, world)
    _assert_unchanged(world, before, cursor)


# --------------------------------------------------------------------------
# what a single request cannot show

def test_editor_content_write_reaches_the_owner(fresh_world):
    """An editor's upload inside a shared folder is alice's new content."""
    w = fresh_world
    carol = w.callers["editor"]
    j = carol.upload(w.ids["DF"], b"carol's bytes")
    assert j["conflict"] is None and j["node"]["owner"] == "alice" and j["node"]["role"] == "editor"
    assert w.alice.download(w.ids["DF"]) == b"carol's bytes"
    n = ok(_create(carol, w, "S", "carols.txt", "file"), 201)
    carol.upload(n["id"], b"new file", base_rev=0)
    assert n["owner"] == "alice" and w.alice.download(n["id"]) == b"new file"


def test_revoked_upload_session_cannot_commit(fresh_world):
    """dora's session is complete, so only her lost rights stop the commit;
    as a viewer she is still refused, and as an editor again it goes through."""
    w = fresh_world
    dora, a = w.callers["revoked"], w.alice
    assert ok(dora.get("/v1/uploads/%s" % w.dora_session["id"]))["missing"] == []
    err(dora.post("/v1/uploads/%s/commit" % w.dora_session["id"]), 404, "not_found")
    a.share(w.ids["F"], ["dora"], "viewer")
    err(dora.post("/v1/uploads/%s/commit" % w.dora_session["id"]), 403, "forbidden")
    assert a.download(w.ids["F"]) == w.data["F"]
    a.share(w.ids["F"], ["dora"], "editor")
    ok(dora.post("/v1/uploads/%s/commit" % w.dora_session["id"]))
    assert a.download(w.ids["F"]) != w.data["F"]


def test_editor_downgraded_to_viewer_cannot_commit(fresh_world):
    """The role is checked at commit, not only when the session opened."""
    w = fresh_world
    carol, a = w.callers["editor"], w.alice
    chunks = [b"carol wrote this while an editor"]
    sess = carol.open_upload(w.ids["IF"], chunks, a.node(w.ids["IF"])["content_rev"])
    carol.put_missing(sess, chunks)
    a.share(w.ids["D"], ["carol"], "viewer")
    err(carol.post("/v1/uploads/%s/commit" % sess["id"]), 403, "forbidden")
    assert a.download(w.ids["IF"]) == w.data["IF"]


def test_revoked_feed_is_silent(fresh_world):
    """After the unshare, alice's changes reach bob (still a viewer) but not dora."""
    w = fresh_world
    a, bob, dora = w.alice, w.callers["viewer"], w.callers["revoked"]
    cur_bob, cur_dora = bob.latest(), dora.latest()
    a.patch_node(w.ids["D"], {"mode": 0o750})
    a.patch_node(w.ids["IF"], {"name": "renamed.bin"})
    a.upload(w.ids["F"], b"alice's new bytes")
    a.mkfile(w.ids["S"], "later.txt")
    a.delete_node(w.ids["DF"])
    ids = set(w.ids.values())
    seen = {e["node"]["id"] for e in bob.changes(cur_bob, limit=10000)["changes"]}
    assert {w.ids[k] for k in ("D", "IF", "F", "DF")} <= seen
    evs = dora.changes(cur_dora, limit=10000)["changes"]
    assert [e for e in evs if e["node"]["id"] in ids or e["node"]["name"] == "later.txt"] == []


def test_recipient_may_leave_a_share_but_not_revoke_others(fresh_world):
    """api_shares.c lets a recipient delete their own share (docs/api.md does
    not say so); another recipient's share stays."""
    w = fresh_world
    bob, a = w.callers["viewer"], w.alice
    err(bob.delete(_node(w, "D", "/shares/carol")), 403, "forbidden")
    assert ok(bob.delete(_node(w, "D", "/shares/bob"))) == {}
    err(bob.get(_node(w, "IF")), 404, "not_found")
    assert ok(a.get(_node(w, "D", "/shares")))["shares"] == [{"user": "carol", "role": "editor"}]
    ok(w.callers["editor"].get(_node(w, "IF")))
