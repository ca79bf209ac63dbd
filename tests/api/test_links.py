"""Public links: POST /v1/nodes/{id}/links and GET/HEAD /v1/links/{id}."""
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import KiB, err, ok, rand_bytes, new_id


def parts(url):
    u = urlsplit(url)
    return u.path, {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}


def build(path, q):
    return path + "?" + urlencode(q)


def test_link_download(alice, anon, adir):
    data = rand_bytes(300 * KiB + 17)
    f = alice.write_file(adir["id"], "report.pdf", data, chunk_size=64 * KiB)
    t = time.time()
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 600}))
    assert t + 590 <= j["expires"] <= time.time() + 610, j
    path, q = parts(j["url"])
    assert path == "/v1/links/%s" % f["id"], j
    assert "exp" in q and "sig" in q
    r = anon.get(j["url"], auth=False)
    assert r.status_code == 200, r.text[:300]
    assert r.content == data
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["Content-Type"].split(";")[0] == "application/octet-stream"
    cd = r.headers.get("Content-Disposition", "")
    assert "report.pdf" in cd, cd
    assert re.match(r"^(attachment|inline)\s*;", cd), cd
    # HEAD: same headers, no body
    h = anon.s.head(anon.url(j["url"]), timeout=10)
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(data)


def test_link_default_expiry(alice, adir):
    f = alice.write_file(adir["id"], "f", b"x")
    t = time.time()
    r = alice.post("/v1/nodes/%s/links" % f["id"], {})
    j = ok(r)
    assert t + 3590 <= j["expires"] <= time.time() + 3610, j
    r = alice.post("/v1/nodes/%s/links" % f["id"])   # no body at all
    assert t + 3590 <= ok(r)["expires"] <= time.time() + 3610


def test_link_serves_current_bytes(alice, anon, adir):
    f = alice.write_file(adir["id"], "live.txt", b"old bytes")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    assert anon.get(j["url"], auth=False).content == b"old bytes"
    alice.upload(f["id"], b"new bytes, longer", base_rev=f["content_rev"])
    r = anon.get(j["url"], auth=False)
    assert r.content == b"new bytes, longer"
    assert int(r.headers["Content-Length"]) == len(b"new bytes, longer")


def test_link_empty_file(alice, anon, adir):
    f = alice.mkfile(adir["id"], "empty")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    r = anon.get(j["url"], auth=False)
    assert r.status_code == 200 and r.content == b""
    assert r.headers.get("Content-Length") == "0"


def test_link_odd_names(alice, anon, adir):
    for name in ['quote"in name.txt', "späce ünïcode.txt", "semi;colon\\back.txt", "new\nline"]:
        f = alice.write_file(adir["id"], name, b"odd")
        j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
        r = anon.get(j["url"], auth=False)
        assert r.status_code == 200 and r.content == b"odd"
        cd = r.headers.get("Content-Disposition", "")
        assert cd, r.headers
        assert "\n" not in cd and "\r" not in cd


def test_link_tampered(alice, anon, adir):
    f = alice.write_file(adir["id"], "f", b"tamper")
    other = alice.write_file(adir["id"], "other", b"other bytes")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 600}))
    path, q = parts(j["url"])
    s = q["sig"]
    bad_sig = s[:-1] + ("0" if s[-1] != "0" else "1")
    err(anon.get(build(path, dict(q, sig=bad_sig)), auth=False), 403, "bad_signature")
    err(anon.get(build(path, dict(q, exp=str(int(q["exp"]) + 1))), auth=False),
        403, "bad_signature")
    err(anon.get(build("/v1/links/%s" % other["id"], q), auth=False), 403, "bad_signature")
    err(anon.get(build(path, {"exp": q["exp"]}), auth=False), 403, "bad_signature")
    err(anon.get(path, auth=False), (400, 403), ("bad_signature", "bad_request"))
    # a chunk URL is not a link and the other way round
    cm = alice.content(f["id"])
    _cp, cq = parts(cm["chunks"][0]["url"])
    err(anon.get(build(path, cq), auth=False), 403, "bad_signature")
    # and the link's signature does not open the chunk
    err(anon.get(build("/v1/chunks/%s" % cm["chunks"][0]["hash"], q), auth=False),
        403, "bad_signature")


def test_link_expired(alice, anon, adir):
    f = alice.write_file(adir["id"], "f", b"short-lived")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 1}))
    assert j["expires"] <= time.time() + 2
    assert anon.get(j["url"], auth=False).content == b"short-lived"
    time.sleep(max(0, j["expires"] - time.time()) + 1.6)
    err(anon.get(j["url"], auth=False), 403, "expired")
    r = anon.s.head(anon.url(j["url"]), timeout=10)
    assert r.status_code == 403


def test_link_to_deleted_file(alice, anon, adir):
    f = alice.write_file(adir["id"], "f", b"doomed")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    alice.delete_node(f["id"])
    err(anon.get(j["url"], auth=False), (404, 410))


@pytest.mark.parametrize("expires_in", [0, -1, 31536001, "60", 1.5, None])
def test_link_bad_expiry_400(alice, adir, expires_in):
    f = alice.write_file(adir["id"], "f", b"x")
    err(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": expires_in}), 400)


def test_link_max_expiry_ok(alice, adir):
    f = alice.write_file(adir["id"], "f", b"x")
    j = ok(alice.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 31536000}))
    assert j["expires"] >= time.time() + 31536000 - 10


def test_link_files_only(alice, adir):
    d = alice.mkdir(adir["id"], "d")
    err(alice.post("/v1/nodes/%s/links" % d["id"], {"expires_in": 60}), (400, 409))
    s = alice.create(adir["id"], "s", "symlink", target="x")
    err(alice.post("/v1/nodes/%s/links" % s["id"], {"expires_in": 60}), (400, 409))


def test_link_missing_node_404(alice):
    err(alice.post("/v1/nodes/%s/links" % new_id(), {"expires_in": 60}), 404, "not_found")
