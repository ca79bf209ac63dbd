"""dbxctl against a real dbxd and real dbxfs mounts: login/whoami/logout,
sharing between two accounts, public links fetched with plain curl, the
mount's status, and the errors a user meets (unknown user, not the owner,
refused token, unreachable server, a path outside any mount).

dbxctl runs with HOME and XDG_CONFIG_HOME in the test's tmp dir (one home
per account: Ctl), so it never reads or writes the real ~/.config. The
binary is $DBXCTL (default build/tools/dbxctl/dbxctl)."""
import json
import os
import re
import stat
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import (Account, MiB, T, log, read_file, run, sha, wait_for, write_file,
                      write_random)
from dbxtest import REPO, Client, require_built
from netproxy import NetProxy

# absolute: some tests run dbxctl from inside a mount (cwd), where a
# relative $DBXCTL would not resolve
DBXCTL = os.path.abspath(os.environ.get("DBXCTL", os.path.join(REPO, "build", "tools", "dbxctl",
                                                                "dbxctl")))
COMMANDS = ("login", "logout", "whoami", "share", "unshare", "shares", "shared", "link",
            "status")


class Ctl:
    """dbxctl for one account, with a home of its own under the test's tmp dir."""

    def __init__(self, tmp_path, account=None, name="ctl"):
        require_built(DBXCTL, "dbxctl", "DBXCTL")
        self.account = account
        self.home = str(tmp_path / ("home-" + name))
        os.makedirs(self.home, exist_ok=True)
        self.dir = os.path.join(self.home, ".config", "dbxfs")
        self.config = os.path.join(self.dir, "config")
        self.token_file = os.path.join(self.dir, "token")

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.home
        e["XDG_CONFIG_HOME"] = os.path.join(self.home, ".config")
        return e

    def __call__(self, *args, stdin="", expect=0, timeout=None):
        """Runs dbxctl ARGS; asserts the exit code (unless expect is None)."""
        r = run([DBXCTL] + [str(a) for a in args], check=False, input=stdin,
                env=self.env(), timeout=timeout or T(60))
        log("dbxctl %s -> %d\n  stdout: %s  stderr: %s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        if expect is not None:
            assert r.returncode == expect, "dbxctl %s exited %d, expected %d\nstdout: %s\n" \
                "stderr: %s" % (" ".join(map(str, args)), r.returncode, expect, r.stdout,
                                r.stderr)
        return r

    def login(self):
        a = self.account
        return self("login", a.server.url, a.user, stdin=a.password + "\n")

    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()


def one_line_error(r, *words):
    """A failure reported as one line on stderr, naming each of words."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("dbxctl"), r.stderr
    assert not r.stdout, "stdout on failure: %r" % r.stdout
    for w in words:
        assert w in lines[0], "%r not in the error %r" % (w, lines[0])
    return lines[0]


def curl(url, out):
    """Plain curl; returns the HTTP status."""
    r = run(["curl", "-sS", "-o", str(out), "-w", "%{http_code}", url], check=False,
            timeout=T(60))
    assert r.returncode == 0, "curl failed: %s" % r.stderr
    return int(r.stdout)


def shared_names(account):
    return [(e["node"]["name"], e["role"], e["owner"])
            for e in account.api.get("/v1/shared").json()["entries"]]


@pytest.fixture
def alice_file(server, account, make_mount):
    """A mount of a fresh account with a file on it, uploaded."""
    m = make_mount(server, account, "a")
    data = os.urandom(MiB + 4321)
    os.makedirs(m.path("docs"))
    write_file(m.path("docs/report.bin"), data)
    m.wait_idle()
    return m, m.path("docs/report.bin"), data


# --------------------------------------------------------------------------
# help and usage

def test_help_for_every_command(tmp_path):
    ctl = Ctl(tmp_path)
    r = ctl("--help")
    for cmd in COMMANDS:
        assert re.search(r"^  %s " % cmd, r.stdout, re.M), "%s missing from --help" % cmd
    assert "dbxd useradd" in r.stdout
    for cmd in COMMANDS:
        r = ctl(cmd, "--help")
        assert r.stdout.startswith("usage: dbxctl %s" % cmd), r.stdout
        assert ctl("help", cmd).stdout == r.stdout
    assert re.fullmatch(r"dbxctl \d+\.\d+\.\d+\n", ctl("--version").stdout)
    one_line_error(ctl("frobnicate", expect=2), "frobnicate")
    one_line_error(ctl(expect=2))
    one_line_error(ctl("share", "x", expect=2), "missing argument")
    one_line_error(ctl("shares", "--role", "editor", "x", expect=2), "--role")
    one_line_error(ctl("share", "x", "bob", "--role", "owner", expect=2), "owner")
    one_line_error(ctl("link", "x", "--expires", "10y", expect=2), "--expires")
    one_line_error(ctl("status", "--count", "0", expect=2), "--count")


# --------------------------------------------------------------------------
# accounts

def test_login_whoami_logout(server, account, tmp_path):
    ctl = Ctl(tmp_path, account)
    r = ctl.login()
    token = ctl.token()
    assert re.fullmatch(r"[0-9a-f]{64}", token), "token file holds %r" % token
    for out in (r.stdout, r.stderr):
        assert token not in out and account.password not in out
    assert account.user in r.stdout
    assert stat.S_IMODE(os.stat(ctl.dir).st_mode) == 0o700
    for f in (ctl.config, ctl.token_file):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    conf = read_file(ctl.config).decode()
    assert re.search(r"^server = %s$" % re.escape(server.url), conf, re.M), conf
    assert re.search(r"^user = %s$" % account.user, conf, re.M), conf
    assert token not in conf
    # the saved token is a live one
    assert Client(server, token).get("/v1/me").json()["user"] == account.user

    r = ctl("whoami")
    assert re.search(r"^user: +%s$" % account.user, r.stdout, re.M), r.stdout
    assert re.search(r"^server: +%s$" % re.escape(server.url), r.stdout, re.M), r.stdout
    assert token not in r.stdout + r.stderr

    r = ctl("logout")
    assert not os.path.exists(ctl.token_file)
    assert os.path.exists(ctl.config), "logout keeps the server and user"
    assert Client(server, token).get("/v1/me").status_code == 401, "token not revoked"
    one_line_error(ctl("whoami", expect=1), "not logged in", "dbxctl login")
    one_line_error(ctl("logout", expect=1), "not logged in")


def test_login_from_stdin_flag_and_wrong_password(server, account, tmp_path):
    ctl = Ctl(tmp_path, account)
    r = ctl("login", server.url, account.user, stdin="not-the-password\n", expect=1)
    one_line_error(r, "wrong user or password")
    assert not os.path.exists(ctl.token_file)
    r = ctl("login", "--password-stdin", server.url + "/", account.user,
            stdin=account.password + "\nleftover\n")
    assert "server = %s\n" % server.url in read_file(ctl.config).decode(), \
        "trailing slash kept"
    one_line_error(ctl("login", server.url, account.user, stdin="", expect=1), "no password")
    one_line_error(ctl("login", server.url, "Not A User!", expect=2), "not a valid user")


def test_config_and_token_file_options(server, account, tmp_path):
    ctl = Ctl(tmp_path, account)
    conf, tok = tmp_path / "elsewhere" / "conf", tmp_path / "elsewhere" / "tok"
    ctl("--config", conf, "--token-file", tok, "login", server.url, account.user,
        stdin=account.password + "\n")
    assert not os.path.exists(ctl.config) and not os.path.exists(ctl.token_file)
    assert stat.S_IMODE(os.stat(tok).st_mode) == 0o600
    # before the command or after it
    assert account.user in ctl("whoami", "--config", conf, "--token-file", tok).stdout
    assert account.user in ctl("--config", conf, "--token-file", tok, "whoami").stdout
    one_line_error(ctl("whoami", expect=1), "not logged in")


def test_refused_token_says_login_again(server, account, tmp_path):
    ctl = Ctl(tmp_path, account)
    ctl.login()
    # revoked behind dbxctl's back, as an expired token is refused
    assert Client(server, ctl.token()).post("/v1/logout").status_code == 200
    err = one_line_error(ctl("whoami", expect=1), "dbxctl login")
    assert "expired or revoked" in err
    assert ctl.token() not in err


def test_unreachable_server(server, account, tmp_path):
    ctl = Ctl(tmp_path, account)
    ctl.login()
    conf = read_file(ctl.config).decode().replace(server.url, "http://127.0.0.1:9")
    with open(ctl.config, "w") as f:
        f.write(conf)
    one_line_error(ctl("whoami", expect=1), "cannot reach dbxd", "127.0.0.1:9")
    one_line_error(ctl("login", "http://127.0.0.1:9", account.user, stdin="pw\n",
                       expect=1), "cannot reach dbxd")


# --------------------------------------------------------------------------
# sharing

def test_share_shares_shared_unshare(server, account, tmp_path, alice_file):
    m, path, _ = alice_file
    bob = Account(server)
    alice_ctl, bob_ctl = Ctl(tmp_path, account, "alice"), Ctl(tmp_path, bob, "bob")
    alice_ctl.login()
    bob_ctl.login()
    assert shared_names(bob) == []

    r = alice_ctl("share", path, bob.user)
    assert bob.user in r.stdout and "viewer" in r.stdout
    assert shared_names(bob) == [("report.bin", "viewer", account.user)]
    assert alice_ctl("shares", path).stdout == "%s viewer\n" % bob.user
    out = bob_ctl("shared").stdout
    assert re.fullmatch(r"viewer +%s +report\.bin\n" % account.user, out), out

    # again, as editor, and a directory: it says so with a slash
    alice_ctl("share", "--role", "editor", path, bob.user)
    assert alice_ctl("shares", path).stdout == "%s editor\n" % bob.user
    alice_ctl("share", m.path("docs"), bob.user)
    lines = bob_ctl("shared").stdout.splitlines()
    assert sorted(ln.split()[-1] for ln in lines) == ["docs/", "report.bin"], lines

    alice_ctl("unshare", path, bob.user)
    assert shared_names(bob) == [("docs", "viewer", account.user)]
    assert alice_ctl("shares", path).stdout == ""
    one_line_error(alice_ctl("unshare", path, bob.user, expect=1), "has no share")


def test_share_errors(server, account, tmp_path, alice_file):
    m, path, _ = alice_file
    bob = Account(server)
    alice_ctl, bob_ctl = Ctl(tmp_path, account, "alice"), Ctl(tmp_path, bob, "bob")
    # not logged in: says how to
    one_line_error(alice_ctl("share", path, bob.user, expect=1), "dbxctl login")
    alice_ctl.login()
    bob_ctl.login()
    one_line_error(alice_ctl("share", path, "nosuchuser", expect=1), "nosuchuser")
    assert shared_names(bob) == []
    # bob names alice's file (through her mount): he cannot see it...
    one_line_error(bob_ctl("share", path, account.user, expect=1), "not on dbxd",
                   bob.user)
    # ...and once he can, he is not its owner
    alice_ctl("share", path, bob.user)
    one_line_error(bob_ctl("share", path, account.user, expect=1), "owner",
                   account.user)
    one_line_error(bob_ctl("shares", path, expect=1), "owner")


def test_recipient_paths_in_shared_with_me(server, account, tmp_path, alice_file, make_mount):
    """Bob works on paths in his own mount's `Shared with me`: he may link an
    editor's share, not list or make shares of it, and may leave it."""
    m, path, data = alice_file
    bob = Account(server)
    alice_ctl, bob_ctl = Ctl(tmp_path, account, "alice"), Ctl(tmp_path, bob, "bob")
    alice_ctl.login()
    bob_ctl.login()
    b = make_mount(server, bob, "b")
    alice_ctl("share", "--role", "editor", path, bob.user)
    theirs = b.path("Shared with me", "report.bin")
    wait_for(lambda: os.path.exists(theirs), T(15), "the share on bob's mount")

    # the directory itself is the mount's view, not a node on dbxd
    for args in (["share", b.path("Shared with me"), account.user],
                 ["link", b.path("Shared with me")]):
        one_line_error(bob_ctl(*args, expect=1), "not a file or directory on dbxd")
    url = bob_ctl("link", theirs).stdout.strip()
    assert curl(url, tmp_path / "via-bob") == 200
    assert read_file(tmp_path / "via-bob") == data
    one_line_error(bob_ctl("shares", theirs, expect=1), "belongs to %s" % account.user,
                   "editor")
    one_line_error(bob_ctl("share", theirs, "nosuchuser", expect=1), "only its owner")
    bob_ctl("unshare", theirs, bob.user)
    assert shared_names(bob) == []
    wait_for(lambda: not os.path.exists(theirs), T(15), "the share to leave bob's mount")


def test_path_outside_mount(tmp_path, server, account):
    ctl = Ctl(tmp_path, account)
    ctl.login()
    outside = tmp_path / "plain.txt"
    outside.write_bytes(b"not in a mount")
    for args in (["share", outside, "bob"], ["shares", outside], ["link", outside],
                 ["status", outside], ["unshare", outside, "bob"]):
        one_line_error(ctl(*args, expect=1), "%s is not inside a dbxfs mount" % outside)
    one_line_error(ctl("link", tmp_path / "missing", expect=1), "No such file")


# --------------------------------------------------------------------------
# links

def test_link_downloads_with_curl(server, account, tmp_path, alice_file):
    m, path, data = alice_file
    ctl = Ctl(tmp_path, account)
    ctl.login()
    url = ctl("link", path).stdout.strip()
    assert url.startswith(server.url + "/v1/links/"), url
    assert curl(url, tmp_path / "got") == 200
    assert sha(read_file(tmp_path / "got")) == sha(data)
    exp = int(parse_qs(urlsplit(url).query)["exp"][0])
    assert 3500 <= exp - time.time() <= 3700, "default is one hour"

    # one character of the signature changed: refused
    q = urlsplit(url).query
    sig = parse_qs(q)["sig"][0]
    bad_sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert curl(url.replace("sig=" + sig, "sig=" + bad_sig), tmp_path / "x") == 403

    one_line_error(ctl("link", m.path("docs"), expect=1), "only files")


def test_link_expires(server, account, tmp_path, alice_file):
    m, path, data = alice_file
    ctl = Ctl(tmp_path, account)
    ctl.login()
    url = ctl("link", "--expires", "2s", path).stdout.strip()
    exp = int(parse_qs(urlsplit(url).query)["exp"][0])
    assert exp - time.time() <= 2.5, "--expires 2s gave exp %d" % exp
    time.sleep(3)
    assert curl(url, tmp_path / "late") == 403
    long_url = ctl("link", "--expires", "7d", path).stdout.strip()
    exp = int(parse_qs(urlsplit(long_url).query)["exp"][0])
    assert abs(exp - time.time() - 7 * 86400) < 120
    assert curl(long_url, tmp_path / "ok") == 200
    assert read_file(tmp_path / "ok") == data


# --------------------------------------------------------------------------
# status

def test_status_idle(tmp_path, mnt):
    os.makedirs(mnt.path("sub"))
    mnt.wait_idle()
    ctl = Ctl(tmp_path)            # no login: status asks the mount only
    r = ctl("status", mnt.path("sub"))
    assert r.stdout.startswith("%s: online, up to date\n" % os.path.realpath(mnt.mnt)), \
        r.stdout
    assert re.search(r"^  queued +0 operations$", r.stdout, re.M), r.stdout
    assert re.search(r"^  last sync +\d+ s ago", r.stdout, re.M), r.stdout
    assert re.search(r"^  conflicts +0 ", r.stdout, re.M), r.stdout

    j = json.loads(ctl("status", "--json", mnt.mnt).stdout)
    assert j["online"] is True and j["queued"] == 0 and j["dirty"] == 0, j
    assert j["uploads"] == [] and j["last_sync"] > 0, j

    # from inside the mount, without PATH
    r = run([DBXCTL, "status"], check=False, cwd=mnt.path("sub"), env=ctl.env(),
            timeout=T(30))
    assert r.returncode == 0 and "up to date" in r.stdout, r


def test_status_watch_count(tmp_path, mnt):
    ctl = Ctl(tmp_path)
    t0 = time.time()
    r = ctl("status", "--watch", "--count", "2", mnt.mnt)
    assert r.stdout.count("%s: online" % os.path.realpath(mnt.mnt)) == 2, r.stdout
    assert time.time() - t0 >= 0.9, "two refreshes a second apart"
    lines = ctl("status", "--json", "--count", "3", mnt.mnt).stdout.splitlines()
    assert len(lines) == 3 and all("queued" in json.loads(ln) for ln in lines), lines


# The upload link of test_status_shows_upload_progress: slow enough that
# the 8 MiB file takes 8 s to send, so polls see it on any machine.
PROGRESS_FILE = 8 * MiB
PROGRESS_BPS = 1 * MiB


@pytest.fixture
def upload_proxy(server):
    """A NetProxy to the shared server, throttled upstream. Requested before
    make_mount, so it outlives the mounts that use it."""
    p = NetProxy(server.port, up_bps=PROGRESS_BPS).start()
    yield p
    p.stop()


def test_status_shows_upload_progress(tmp_path, server, account, upload_proxy, make_mount):
    """A large file's upload, as `dbxctl status` draws it, through a link
    throttled so that the upload lasts long enough to be seen."""
    ctl = Ctl(tmp_path)
    m = make_mount(server, account, "a", mount=False)
    m.server_url = upload_proxy.url
    m.mount()
    digest = write_random(m.path("big.bin"), PROGRESS_FILE)
    seen = None
    deadline = time.time() + T(60)
    while seen is None and time.time() < deadline:
        out = ctl("status", m.mnt).stdout
        if "  [" in out:
            seen = out
        time.sleep(0.05)
    # the rest of the upload at full speed
    upload_proxy.throttle(None)
    m.wait_idle()
    assert seen is not None, "no poll saw the upload within %ss" % T(60)
    assert re.search(r"^  to upload +\d+ files?, 1 uploading now$", seen, re.M), seen
    unit = r"[\d.]+ (B|KiB|MiB|GiB)"
    assert re.search(r"^  \[[#-]{24}\] +\d+%  (scanning|sending|committing|starting) +"
                     r"big\.bin\n  " + unit + " of " + unit + r", \d+ (of \d+ )?chunks",
                     seen, re.M), seen
    # the bytes went through the throttled link, and all of them arrived
    assert upload_proxy.up_bytes >= PROGRESS_FILE
    node = account.lookup("big.bin")
    assert node is not None and node["size"] == PROGRESS_FILE
    assert sha(account.download(node["id"])) == digest


@pytest.mark.watchdog(180)
def test_status_offline(own_server, make_mount, tmp_path):
    acct = Account(own_server)
    m = make_mount(own_server, acct, "a")
    os.listdir(m.mnt)     # listed once online: it can be written offline
    m.wait_idle()
    ctl = Ctl(tmp_path)
    own_server.stop()
    wait_for(lambda: m.status()["online"] is False, T(20), "the mount to go offline")
    write_file(m.path("waiting.bin"), os.urandom(2 * MiB))
    os.mkdir(m.path("waiting-dir"))
    r = ctl("status", m.mnt)
    assert ": offline" in r.stdout.splitlines()[0], r.stdout
    queued = int(re.search(r"^  queued +(\d+) operations?$", r.stdout, re.M).group(1))
    dirty = int(re.search(r"^  to upload +(\d+) files?,", r.stdout, re.M).group(1))
    assert queued >= 1 and dirty >= 1, r.stdout
    own_server.restart()
    m.wait_idle()
    assert "online, up to date" in ctl("status", m.mnt).stdout
