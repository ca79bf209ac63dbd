"""Signed chunk URLs: GET/HEAD/PUT, caching headers, zstd answers, forgery,
replay on another chunk, method swap, expiry."""
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import (KiB, err, ok, rand_bytes, sha, split, start_module_server,
                      zstd_decompress)


def parts(url):
    u = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    return u.path, q


def build(path, q):
    return path + ("?" + urlencode(q) if q is not None else "")


def flip_hex(s, i=-1):
    c = s[i]
    n = "0" if c != "0" else "1"
    i = i % len(s)
    return s[:i] + n + s[i + 1:]


@pytest.fixture
def two_chunk_file(alice, adir):
    a = rand_bytes(20 * KiB)
    b = rand_bytes(30 * KiB)
    f = alice.mkfile(adir["id"], "two.bin")
    alice.upload_chunks(f["id"], [a, b], 0)
    cm = alice.content(f["id"])
    assert [c["hash"] for c in cm["chunks"]] == [sha(a), sha(b)]
    return f, cm, a, b


def test_chunk_get_headers(anon, two_chunk_file):
    _f, cm, a, _b = two_chunk_file
    c = cm["chunks"][0]
    r = anon.get(c["url"], auth=False)
    assert r.status_code == 200
    assert r.content == a
    assert int(r.headers["Content-Length"]) == len(a)
    cc = [p.strip() for p in r.headers.get("Cache-Control", "").split(",")]
    assert "immutable" in cc and "max-age=31536000" in cc and "public" in cc, r.headers
    assert r.headers.get("ETag") == '"%s"' % c["hash"], r.headers
    assert "Content-Encoding" not in r.headers or r.headers["Content-Encoding"] == "identity"


def test_chunk_head(anon, two_chunk_file):
    _f, cm, _a, b = two_chunk_file
    c = cm["chunks"][1]
    r = anon.s.head(anon.url(c["url"]), timeout=10)
    assert r.status_code == 200, r.status_code
    assert r.content == b""
    assert int(r.headers["Content-Length"]) == len(b)
    assert r.headers.get("ETag") == '"%s"' % c["hash"]


def test_chunk_get_accept_zstd(anon, alice, adir):
    plain = (b"a compressible line of text, again and again\n" * 3000)[:100 * KiB]
    f = alice.write_file(adir["id"], "z.txt", plain, chunk_size=len(plain))
    c = alice.content(f["id"])["chunks"][0]
    r = anon.s.get(anon.url(c["url"]), headers={"Accept-Encoding": "zstd"}, stream=True,
                   timeout=10)
    assert r.status_code == 200
    raw = r.raw.read(decode_content=False)
    enc = r.headers.get("Content-Encoding", "identity")
    assert enc in ("zstd", "identity"), enc
    body = zstd_decompress(raw) if enc == "zstd" else raw
    assert body == plain
    assert r.headers.get("ETag") == '"%s"' % c["hash"]
    # without Accept-Encoding: zstd the answer is never zstd
    r = anon.s.get(anon.url(c["url"]), headers={"Accept-Encoding": "identity"}, stream=True,
                   timeout=10)
    assert r.headers.get("Content-Encoding", "identity") == "identity"
    assert r.raw.read(decode_content=False) == plain


def test_forged_signature(anon, two_chunk_file):
    _f, cm, _a, _b = two_chunk_file
    path, q = parts(cm["chunks"][0]["url"])
    assert set(q) >= {"exp", "sig"}, q
    cases = [
        dict(q, sig=flip_hex(q["sig"])),
        dict(q, sig=flip_hex(q["sig"], 0)),
        dict(q, sig=q["sig"][:-2]),
        dict(q, sig=q["sig"] + "00"),
        dict(q, sig=""),
        dict(q, sig="zz" * 32),
        {"exp": q["exp"]},
        dict(q, exp=str(int(q["exp"]) + 1000)),
        dict(q, exp=str(int(q["exp"]) - 1)),
    ]
    for cq in cases:
        err(anon.get(build(path, cq), auth=False), 403, "bad_signature")
    # missing exp
    err(anon.get(build(path, {"sig": q["sig"]}), auth=False), (400, 403),
        ("bad_signature", "bad_request"))
    err(anon.get(path, auth=False), 403, "bad_signature")


def test_bearer_token_does_not_open_chunks(alice, two_chunk_file):
    _f, cm, _a, _b = two_chunk_file
    path, _q = parts(cm["chunks"][0]["url"])
    err(alice.get(path), 403, "bad_signature")


def test_url_replayed_on_another_chunk(anon, two_chunk_file):
    _f, cm, a, b = two_chunk_file
    ha, hb = cm["chunks"][0]["hash"], cm["chunks"][1]["hash"]
    path_a, qa = parts(cm["chunks"][0]["url"])
    assert path_a == "/v1/chunks/" + ha
    err(anon.get(build("/v1/chunks/" + hb, qa), auth=False), 403, "bad_signature")
    r = anon.s.head(anon.url(build("/v1/chunks/" + hb, qa)), timeout=10)
    assert r.status_code == 403


def test_put_url_replayed_on_another_chunk(alice, anon, adir):
    f = alice.mkfile(adir["id"], "f")
    a, b = rand_bytes(1000), rand_bytes(1001)
    s = alice.open_upload(f["id"], [a, b], 0)
    urls = {m["hash"]: m["url"] for m in s["missing"]}
    _p, qa = parts(urls[sha(a)])
    err(anon.put_chunk(build("/v1/chunks/" + sha(b), qa), b), 403, "bad_signature")
    # and a chunk that is in no session at all
    c = rand_bytes(999)
    err(anon.put_chunk(build("/v1/chunks/" + sha(c), qa), c), 403, "bad_signature")
    g = ok(alice.get("/v1/uploads/%s" % s["id"]))
    assert len(g["missing"]) == 2


def test_method_swap(alice, anon, adir, two_chunk_file):
    _f, cm, a, _b = two_chunk_file
    # a GET URL used for PUT, with the right bytes
    err(anon.put_chunk(cm["chunks"][0]["url"], a), 403, "bad_signature")
    # a PUT URL used for GET
    g = alice.mkfile(adir["id"], "g")
    c = rand_bytes(777)
    s = alice.open_upload(g["id"], [c], 0)
    put_url = s["missing"][0]["url"]
    ok(anon.put_chunk(put_url, c), 201)
    err(anon.get(put_url, auth=False), 403, "bad_signature")
    r = anon.s.head(anon.url(put_url), timeout=10)
    assert r.status_code == 403
    err(anon.delete(put_url, auth=False), (403, 405))
    # the GET URL still works for GET
    assert anon.get(cm["chunks"][0]["url"], auth=False).content == a


def test_signed_urls_differ_per_chunk(two_chunk_file):
    _f, cm, _a, _b = two_chunk_file
    sigs = [parts(c["url"])[1]["sig"] for c in cm["chunks"]]
    assert sigs[0] != sigs[1]


def test_default_url_ttl_is_one_hour(two_chunk_file):
    _f, cm, _a, _b = two_chunk_file
    exp = int(parts(cm["chunks"][0]["url"])[1]["exp"])
    assert time.time() + 3500 <= exp <= time.time() + 3700, exp


# ---- expiry: a server with --url-ttl 2

@pytest.fixture(scope="module")
def short_url_server(tmp_path_factory, request):
    return start_module_server(tmp_path_factory, request, "urlttl", args=["--url-ttl", "2"],
                               users={"alice": "pw-a"})


def test_expired_urls(short_url_server):
    c = short_url_server.client("alice", "pw-a")
    anon = short_url_server.client()
    f = c.mkfile(c.root, "f")
    data = rand_bytes(3000)
    chunks = split(data, 1000)
    # a file with content, for GET URLs
    c.upload(f["id"], data, base_rev=0, chunk_size=1000)
    cm = c.content(f["id"])
    get_url = cm["chunks"][0]["url"]
    path, q = parts(get_url)
    assert int(q["exp"]) <= time.time() + 3
    # an upload session, for PUT URLs
    g = c.mkfile(c.root, "g")
    new = [rand_bytes(500), rand_bytes(501)]
    s = c.open_upload(g["id"], new, 0)
    assert s["missing"]
    time.sleep(max(0, int(q["exp"]) - time.time()) + 1.6)
    err(anon.get(get_url, auth=False), 403, "expired")
    err(anon.put_chunk(s["missing"][0]["url"], {sha(x): x for x in new}[s["missing"][0]["hash"]]),
        403, "expired")
    # an expired URL with a forged signature is a bad signature
    err(anon.get(build(path, dict(q, sig=flip_hex(q["sig"]))), auth=False), 403, "bad_signature")
    # fresh URLs work again
    assert c.download(f["id"]) == data
    g2 = ok(c.get("/v1/uploads/%s" % s["id"]))
    assert len(g2["missing"]) == 2
    c.put_missing(g2, new)
    c.commit(s["id"])
    assert c.download(g["id"]) == b"".join(new)
    assert chunks


def test_public_url_makes_absolute_urls(make_server):
    srv = make_server("puburl", args=["--public-url", "https://files.example.test:8443"],
                      users={"alice": "pw"})
    c = srv.client("alice", "pw")
    f = c.mkfile(c.root, "f")
    s = c.open_upload(f["id"], [b"abc"], 0)
    assert s["missing"][0]["url"].startswith(
        "https://files.example.test:8443/v1/chunks/" + sha(b"abc") + "?"), s
    # the signature covers the path, not the host: the same path works here
    path = urlsplit(s["missing"][0]["url"])
    ok(c.put_chunk(path.path + "?" + path.query, b"abc"), 201)
    c.commit(s["id"])
    cm = c.content(f["id"])
    assert cm["chunks"][0]["url"].startswith("https://files.example.test:8443/v1/chunks/")
    j = ok(c.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    assert j["url"].startswith("https://files.example.test:8443/v1/links/" + f["id"] + "?")
    u = urlsplit(j["url"])
    assert c.s.get(c.url(u.path + "?" + u.query), timeout=10).content == b"abc"
