"""POST /v1/batch: node operations in order in one request; the batch stops
after the first operation that does not succeed. Rights per operation are in
test_rights.py."""
import pytest

from conftest import err, new_id, ok


def create_op(parent, name, type="dir", id=None):
    return {"method": "POST", "path": "/v1/nodes",
            "body": {"id": id or new_id(), "parent": parent, "name": name, "type": type,
                     "mode": 0o755 if type == "dir" else 0o644, "uid": 1000, "gid": 1000}}


def batch(c, ops, status=200):
    return ok(c.post("/v1/batch", {"ops": ops}), status)["results"]


def test_batch_runs_in_order(alice, adir):
    d, f = new_id(), new_id()
    results = batch(alice, [
        create_op(adir["id"], "dir", id=d),
        create_op(d, "file.txt", "file", id=f),          # inside what the first made
        {"method": "PATCH", "path": "/v1/nodes/" + f, "body": {"name": "renamed.txt"}},
        {"method": "PATCH", "path": "/v1/nodes/" + f, "body": {"mode": 0o600}},
        create_op(d, "gone"),
    ])
    assert [r["status"] for r in results] == [201, 201, 200, 200, 201]
    assert results[0]["body"]["id"] == d and results[1]["body"]["parent"] == d
    gone = results[4]["body"]["id"]
    assert batch(alice, [{"method": "DELETE", "path": "/v1/nodes/" + gone}])[0]["status"] == 200
    assert alice.names(d) == ["renamed.txt"]
    n = alice.node(f)
    assert n["mode"] & 0o777 == 0o600 and n["rev"] == results[3]["body"]["rev"]


def test_batch_stops_at_first_failure(alice, adir):
    taken = alice.mkdir(adir["id"], "taken")
    after = new_id()
    results = batch(alice, [
        create_op(adir["id"], "first"),
        create_op(adir["id"], "taken"),                  # 409 exists
        create_op(adir["id"], "never", id=after),
    ])
    assert [r["status"] for r in results] == [201, 409]
    assert results[1]["body"]["error"] == "exists"
    assert results[1]["body"]["existing"] == taken["id"]
    err(alice.get("/v1/nodes/" + after), 404, "not_found")
    # a not_empty delete is an answer like any other
    results = batch(alice, [{"method": "DELETE", "path": "/v1/nodes/" + adir["id"]}])
    assert results[0]["status"] == 409 and results[0]["body"]["error"] == "not_empty"


def test_batch_replay_is_idempotent(alice, adir):
    ops = [create_op(adir["id"], "again")]
    first = batch(alice, ops)
    second = batch(alice, ops)
    assert first[0]["status"] == 201 and second[0]["status"] == 200
    assert first[0]["body"]["id"] == second[0]["body"]["id"]


@pytest.mark.parametrize("ops,why", [
    (None, "no ops"),
    ([], "empty"),
    ({"method": "GET"}, "not an array"),
    (["x"], "an op that is not an object"),
    ([{"method": "POST"}], "no path"),
    ([{"method": "POST", "path": "/v1/nodes", "body": []}], "body not an object"),
    ([{"method": "POST", "path": "/v1/nodes", "body": {}, "extra": 1}], "unknown field"),
    ([{"method": "DELETE", "path": "/v1/nodes/" + "a" * 300}], "path too long"),
    ([{"method": "DELETE", "path": "/v1/nodes/0123456789abcdef"}] * 257, "too many"),
])
def test_batch_malformed_is_400_and_runs_nothing(alice, adir, ops, why):
    before = alice.latest()
    body = {} if ops is None else {"ops": ops}
    err(alice.post("/v1/batch", body), 400, ("bad_request", "bad_json"))
    assert alice.changes(before)["changes"] == [], why


@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/login"), ("POST", "/v1/batch"), ("GET", "/v1/me"),
    ("POST", "/v1/uploads"), ("GET", "/v1/nodes/{id}"), ("DELETE", "/v1/nodes/{id}/shares/bob"),
])
def test_batch_only_takes_node_changes(alice, adir, method, path):
    path = path.replace("{id}", adir["id"])
    results = batch(alice, [{"method": method, "path": path, "body": {}}
                            if method == "POST" else {"method": method, "path": path}])
    assert len(results) == 1 and results[0]["status"] == 400
    assert results[0]["body"]["error"] == "bad_request"


def test_batch_errors_of_routing_and_bodies(alice, adir):
    for op, status, code in [
        ({"method": "POST", "path": "/v1/nope"}, 404, "not_found"),
        ({"method": "PUT", "path": "/v1/nodes/" + adir["id"]}, 405, "method_not_allowed"),
        ({"method": "DELETE", "path": "/v1/nodes/xyz"}, 400, "invalid_id"),
        ({"method": "POST", "path": "/v1/nodes"}, 400, "bad_json"),
        ({"method": "DELETE", "path": "/v1/nodes/" + adir["id"], "body": {"bogus": 1}}, 400,
         "bad_request"),
        ({"method": "GET", "path": "/v1/nodes/" + adir["id"], "body": {}}, 400, "bad_request"),
        ({"method": "PATCH", "path": "/v1/nodes/" + adir["id"], "body": {"bogus": 1}}, 400,
         "bad_request"),
    ]:
        r = batch(alice, [op])
        assert len(r) == 1 and r[0]["status"] == status and r[0]["body"]["error"] == code, (op, r)


def test_batch_query_does_not_reach_operations(alice, adir):
    """A query string on the batch is not the operations' (DELETE reads
    if_rev from its query when it comes alone)."""
    n = alice.mkdir(adir["id"], "q")
    r = ok(alice.post("/v1/batch?if_rev=1", {"ops": [
        {"method": "DELETE", "path": "/v1/nodes/" + n["id"]}]}))
    assert r["results"][0]["status"] == 200
