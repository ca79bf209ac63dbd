"""No secret in what the clients print: dbxfs's log at log_level=debug and
dbxctl's output hold no password, no token and no URL signature, and the
files holding the token are 0600.

The signatures dbxd handed out during the test are recomputed from its
signing key (urlsign.h: hex(HMAC-SHA256(key, METHOD "\\n" PATH "\\n" EXP)))
for every chunk of the file and every expiry second the test spanned, so
the check covers the URLs dbxfs used without dbxfs having to show them."""
import hashlib
import hmac
import os
import re
import stat
import time
from urllib.parse import parse_qs, urlsplit

import requests

from conftest import Account, MiB, T, read_file, wait_for, write_file
from test_dbxctl import Ctl

URL_TTL = 3600          # dbxd's default --url-ttl
LINK_TTL = 7200         # the link below: --expires 2h


def sig(key, method, path, exp):
    return hmac.new(key, ("%s\n%s\n%d" % (method, path, exp)).encode(),
                    hashlib.sha256).hexdigest()


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_no_secrets_in_dbxfs_log_or_dbxctl_output(own_server, make_mount, tmp_path):
    server = own_server
    acct = Account(server)
    t0 = int(time.time())

    # a write through one mount (uploads: signed PUT URLs), a read through
    # a second one with an empty cache (downloads: signed GET URLs)
    a = make_mount(server, acct, "a", extra=("log_level=debug",))
    data = os.urandom(3 * MiB + 4321)
    write_file(a.path("f.bin"), data)
    a.wait_idle()
    b = make_mount(server, acct, "b", extra=("log_level=debug",))
    assert wait_for(lambda: read_file(b.path("f.bin")) == data, T(60), "f.bin read through b")

    # dbxctl: login (password on stdin), whoami, a link fetched anonymously
    ctl = Ctl(tmp_path, acct)
    runs = [ctl.login(), ctl("whoami")]
    ctl_token = ctl.token()
    runs.append(ctl("link", a.path("f.bin"), "--expires", "2h"))
    link = runs[-1].stdout.strip()
    r = requests.get(link, timeout=T(60))
    assert r.status_code == 200 and r.content == data, r.status_code

    # the files that hold the token: 0600 (and their directory 0700)
    mount_token = read_file(a.token_file).decode().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", mount_token), mount_token
    assert mount_token != ctl_token
    for f in (a.token_file, b.token_file, ctl.token_file, ctl.config):
        assert mode(f) == 0o600, "%s is %04o" % (f, mode(f))
    assert mode(ctl.dir) == 0o700, "%s is %04o" % (ctl.dir, mode(ctl.dir))

    # a chunk URL as dbxd hands it out now, to check the recomputation
    node = acct.lookup("f.bin")
    chunks = acct.api.content(node["id"])["chunks"]
    assert chunks, chunks
    runs.append(ctl("logout"))
    t1 = int(time.time())
    a.unmount()
    b.unmount()

    # every signature dbxd can have issued for this file from t0 to t1
    with open(os.path.join(server.datadir, "keys", "sign.key"), "rb") as f:
        key = f.read()
    sess = acct.api.open_upload(acct.api.mkfile(acct.api.root, "probe")["id"], [b"probe"], 0)
    uid = query(sess["missing"][0]["url"])["u"]
    secrets = {}
    for e in range(t0 - 1, t1 + 2):
        for c in chunks:
            p = "/v1/chunks/" + c["hash"]
            secrets[sig(key, "GET", p, e + URL_TTL)] = "the GET signature of chunk " + c["hash"]
            secrets[sig(key, "PUT", "%s?u=%s" % (p, uid), e + URL_TTL)] = \
                "the PUT signature of chunk " + c["hash"]
        secrets[sig(key, "GET", "/v1/links/" + node["id"], e + LINK_TTL)] = "the link signature"
    assert query(chunks[0]["url"])["sig"] in secrets, "signatures not recomputed right"
    link_sig = query(link)["sig"]
    assert link_sig in secrets, "the link's signature not recomputed right"
    secrets[mount_token] = "the mount's token"
    secrets[ctl_token] = "dbxctl's token"
    secrets[acct.password] = "the password"

    logs = {"dbxfs a": a.log_tail(10**9), "dbxfs b": b.log_tail(10**9)}
    # at debug, dbxfs logs each HTTP request: signed URLs without their query
    assert re.search(r"^\S+Z debug http: PUT \S*/v1/chunks/[0-9a-f]{64} 20[01] \d+ms$",
                     logs["dbxfs a"], re.M), "no chunk upload logged:\n" + logs["dbxfs a"]
    assert re.search(r"^\S+Z debug http: GET \S*/v1/chunks/[0-9a-f]{64} 200 \d+ms$",
                     logs["dbxfs b"], re.M), "no chunk download logged:\n" + logs["dbxfs b"]
    for run in runs:
        logs["dbxctl %s stderr" % run.args[1]] = run.stderr
        # the link is the output of `dbxctl link`: its signature belongs there
        if run.args[1] != "link":
            logs["dbxctl %s stdout" % run.args[1]] = run.stdout
        else:
            assert run.stdout.count(link_sig) == 1, run.stdout
            logs["dbxctl link stdout"] = run.stdout.replace(link_sig, "")
    for where, text in logs.items():
        for value, what in secrets.items():
            for part in {value, value[:16], value[-16:]}:
                assert part not in text, "%s (%r) is in %s:\n%s" % (
                    what, part, where,
                    "\n".join(ln for ln in text.splitlines() if part in ln))
        if where.startswith("dbxfs"):
            for word in ("sig=", "exp=", "?u=", "Bearer", "Authorization"):
                assert word not in text, "%r is in %s:\n%s" % (
                    word, where, "\n".join(ln for ln in text.splitlines() if word in ln))
