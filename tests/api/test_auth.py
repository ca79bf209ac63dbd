"""Accounts, login, tokens, /v1/me, and the admin commands."""
import re
import statistics
import subprocess
import time

import pytest

from conftest import (DBXD, HEX16, USERS, ZERO_ID, check_node, err, new_id, ok,
                      start_module_server)


def test_login_ok(server, anon):
    before = int(time.time())
    r = anon.post("/v1/login", {"user": "alice", "password": USERS["alice"]}, auth=False)
    j = ok(r)
    assert re.match(r"^[0-9a-f]{64}$", j["token"]), j
    assert j["user"] == "alice"
    assert HEX16.match(j["root"]) and j["root"] != ZERO_ID, j
    # default token lifetime is 30 days
    assert before + 29 * 86400 <= j["expires"] <= int(time.time()) + 31 * 86400, j


def test_two_logins_give_distinct_tokens_and_same_root(anon):
    a = ok(anon.post("/v1/login", {"user": "bob", "password": USERS["bob"]}, auth=False))
    b = ok(anon.post("/v1/login", {"user": "bob", "password": USERS["bob"]}, auth=False))
    assert a["token"] != b["token"]
    assert a["root"] == b["root"]


def test_users_have_distinct_roots(alice, bob, carol):
    assert len({alice.root, bob.root, carol.root}) == 3


@pytest.mark.parametrize("user,password", [
    ("alice", "wrong-password"),
    ("alice", ""),
    ("alice", USERS["alice"] + "x"),
    ("alice", USERS["bob"]),
    ("nosuchuser", "whatever"),
    ("ALICE", USERS["alice"]),
])
def test_login_wrong_credentials_401(anon, user, password):
    r = anon.post("/v1/login", {"user": user, "password": password}, auth=False)
    j = err(r, 401, "unauthorized")
    assert "token" not in j


def test_unknown_user_and_wrong_password_look_the_same(anon):
    a = anon.post("/v1/login", {"user": "alice", "password": "nope"}, auth=False)
    b = anon.post("/v1/login", {"user": "nosuchuser", "password": "nope"}, auth=False)
    assert a.status_code == b.status_code == 401
    assert a.json()["error"] == b.json()["error"] == "unauthorized"


def test_me(alice):
    j = ok(alice.get("/v1/me"))
    assert j["user"] == "alice"
    assert j["root"] == alice.root
    assert isinstance(j["expires"], int) and j["expires"] > time.time()


def test_me_matches_login(server):
    c = server.client()
    lj = c.login("carol", USERS["carol"])
    mj = ok(c.get("/v1/me"))
    assert mj == {"user": "carol", "root": lj["root"], "expires": lj["expires"]}


def test_root_node(alice):
    n = alice.node(alice.root)
    check_node(n, id=alice.root, parent=ZERO_ID, type="dir", owner="alice")


@pytest.mark.parametrize("hdr", [
    None,
    "Bearer ",
    "Bearer 0000000000000000000000000000000000000000000000000000000000000000",
    "Bearer notahextoken",
    "Bearer " + "a" * 8000,
    "Basic YWxpY2U6YWxpY2Utc2VjcmV0LXB3",
    "bearer",
])
def test_bad_or_missing_token_401(server, hdr):
    c = server.client()
    headers = {"Authorization": hdr} if hdr is not None else {}
    for path in ("/v1/me", "/v1/shared", "/v1/changes?cursor=latest"):
        err(c.get(path, headers=headers), 401, "unauthorized")


def test_token_in_wrong_place_is_not_accepted(server, alice):
    c = server.client()
    err(c.get("/v1/me", params={"token": alice.token}), 401, "unauthorized")
    err(c.get("/v1/me", headers={"Authorization": alice.token}), 401, "unauthorized")


def test_logout_revokes_only_that_token(server):
    c1 = server.client("bob")
    c2 = server.client("bob")
    ok(c1.get("/v1/me"))
    j = ok(c1.post("/v1/logout"))
    assert j == {}
    err(c1.get("/v1/me"), 401, "unauthorized")
    err(c1.get("/v1/nodes/%s" % c1.root), 401, "unauthorized")
    err(c1.post("/v1/logout"), 401, "unauthorized")
    # the other token of the same user still works
    assert ok(c2.get("/v1/me"))["user"] == "bob"


def test_logout_without_token_401(anon):
    err(anon.post("/v1/logout"), 401, "unauthorized")


def test_useradd_while_running(server):
    r = server.useradd("dave", "dave-pw-1")
    assert r.returncode == 0, r.stderr
    c = server.client("dave", "dave-pw-1")
    assert ok(c.get("/v1/me"))["user"] == "dave"
    root = c.node(c.root)
    assert root["owner"] == "dave" and root["type"] == "dir"
    # an existing user cannot be added again; the password stays
    r = server.useradd("dave", "other-pw", check=False)
    assert r.returncode != 0
    assert (r.stderr + r.stdout).strip(), "useradd of an existing user printed no message"
    err(server.client().post("/v1/login", {"user": "dave", "password": "other-pw"}, auth=False),
        401, "unauthorized")
    server.client("dave", "dave-pw-1")


def test_userdel(server):
    server.useradd("erin", "erin-pw")
    server.client("erin", "erin-pw")
    r = server.userdel("erin")
    assert r.returncode == 0, r.stderr
    err(server.client().post("/v1/login", {"user": "erin", "password": "erin-pw"}, auth=False),
        401, "unauthorized")


def test_useradd_existing_alice_fails(server):
    r = server.useradd("alice", "x", check=False)
    assert r.returncode != 0
    server.client("alice")   # the old password still works


# ---- token expiry: a server with --token-ttl 2

@pytest.fixture(scope="module")
def short_token_server(tmp_path_factory, request):
    return start_module_server(tmp_path_factory, request, "tokttl", args=["--token-ttl", "2"],
                               users={"alice": "pw-a"})


def test_token_expiry(short_token_server):
    c = short_token_server.client()
    j = c.login("alice", "pw-a")
    now = time.time()
    assert now - 1 <= j["expires"] <= now + 4, j
    ok(c.get("/v1/me"))
    time.sleep(max(0, j["expires"] - time.time()) + 1.6)
    err(c.get("/v1/me"), 401, "unauthorized")
    err(c.get("/v1/nodes/%s" % c.root), 401, "unauthorized")
    # a new login works again
    c.login("alice", "pw-a")
    ok(c.get("/v1/me"))


def test_passwd(server):
    server.useradd("frank", "frank-old")
    r = subprocess.run([DBXD, "passwd", "-d", server.datadir, "frank"], input="frank-new\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    err(server.client().post("/v1/login", {"user": "frank", "password": "frank-old"}, auth=False),
        401, "unauthorized")
    server.client("frank", "frank-new")
    r = subprocess.run([DBXD, "passwd", "-d", server.datadir, "nosuchuser"], input="x\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


def test_login_does_the_same_work_for_unknown_users(server):
    c = server.client()

    def t(user, pw):
        ts = []
        for _ in range(5):
            t0 = time.monotonic()
            r = c.post("/v1/login", {"user": user, "password": pw}, auth=False)
            ts.append(time.monotonic() - t0)
            assert r.status_code == 401
        return statistics.median(ts)

    wrong = t("alice", "wrong-password")
    unknown = t("nobody-" + new_id(), "wrong-password")
    # a slow password hash for the real user, and as much work for a
    # user who does not exist (no user-enumeration by timing)
    assert unknown >= 0.5 * wrong and wrong >= 0.5 * unknown, (wrong, unknown)


def test_failed_logins_are_throttled_per_address(make_server):
    srv = make_server("throttle", args=["--login-attempts", "3"])
    c = srv.client()
    for _ in range(3):
        err(c.post("/v1/login", {"user": "alice", "password": "wrong"}, auth=False), 401)
    # the limit is reached: even the right password waits for the next minute
    err(c.post("/v1/login", {"user": "alice", "password": srv.users["alice"]}, auth=False),
        429, ("too_many_attempts",))
    assert srv.alive()
