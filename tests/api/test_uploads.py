"""Uploads: sessions, chunk PUTs, commits, dedup, resume, conflicts,
and downloads through the content map."""
import datetime
import re
import time

import pytest

from conftest import (KiB, MiB, HEX64, check_node, chunk_list, err, new_id, ok,
                      rand_bytes, sha, split, zstd_compress)


def missing_hashes(j):
    out = []
    for m in j["missing"]:
        out.append(m["hash"] if isinstance(m, dict) else m)
    return out


def test_round_trip_multi_chunk(alice, adir):
    data = rand_bytes(3 * MiB + 300 * KiB + 7)
    chunks = split(data, MiB)
    assert len(chunks) == 4
    f = alice.mkfile(adir["id"], "big.bin")
    s = alice.open_upload(f["id"], chunks, 0)
    assert re.match(r"^[A-Za-z0-9_-]+$", s["id"]), s
    assert s["node"] == f["id"] and s["base_rev"] == 0 and s["size"] == len(data)
    assert s["state"] == "open"
    assert s["expires"] > time.time() + 3600
    assert sorted(missing_hashes(s)) == sorted(sha(c) for c in chunks)
    assert s["missing_bytes"] == len(data)
    for m in s["missing"]:
        assert m["url"].startswith("/v1/chunks/%s?" % m["hash"]), m
        assert "exp=" in m["url"] and "sig=" in m["url"]
        assert m["size"] == {sha(c): len(c) for c in chunks}[m["hash"]]
    for m in s["missing"]:
        c = {sha(c): c for c in chunks}[m["hash"]]
        j = ok(alice.put_chunk(m["url"], c), 201)
        assert j == {"hash": m["hash"], "size": len(c)}, j
    cj = alice.commit(s["id"])
    assert cj["conflict"] is None
    n = check_node(cj["node"], id=f["id"], size=len(data), type="file", name="big.bin")
    assert n["content_rev"] == n["rev"] and n["content_rev"] > f["rev"], n
    assert alice.node(f["id"])["size"] == len(data)
    cm = alice.content(f["id"])
    assert cm["id"] == f["id"] and cm["count"] == 4 and cm["size"] == len(data)
    assert cm["content_rev"] == n["content_rev"] and cm["rev"] == n["rev"]
    assert cm["expires"] > time.time()
    assert [(c["hash"], c["size"], c["offset"]) for c in cm["chunks"]] == [
        (sha(c), len(c), i * MiB) for i, c in enumerate(chunks)]
    assert alice.download(f["id"]) == data
    # paging the chunk map
    p = alice.content(f["id"], start=1, limit=2)
    assert p["count"] == 4
    assert [(c["hash"], c["offset"]) for c in p["chunks"]] == [(sha(chunks[1]), MiB),
                                                               (sha(chunks[2]), 2 * MiB)]
    p = alice.content(f["id"], start=3)
    assert [c["hash"] for c in p["chunks"]] == [sha(chunks[3])]
    p = alice.content(f["id"], start=4)
    assert p["chunks"] == [] and p["count"] == 4


def test_overwrite_content(alice, adir):
    f = alice.write_file(adir["id"], "f", b"first version")
    cj = alice.upload(f["id"], b"second, longer version" * 100, base_rev=f["content_rev"])
    assert cj["conflict"] is None
    assert cj["node"]["content_rev"] > f["content_rev"]
    assert alice.download(f["id"]) == b"second, longer version" * 100
    # shrink to empty
    cj = alice.upload(f["id"], b"", base_rev=cj["node"]["content_rev"])
    assert cj["node"]["size"] == 0
    assert alice.download(f["id"]) == b""
    assert alice.names(adir["id"]) == ["f"]


def test_commit_sets_mtime(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    cj = alice.upload(f["id"], b"x" * 1000, base_rev=0, mtime=(1500000000, 987654321))
    assert (cj["node"]["mtime"], cj["node"]["mtime_nsec"]) == (1500000000, 987654321)
    n = alice.node(f["id"])
    assert (n["mtime"], n["mtime_nsec"]) == (1500000000, 987654321)


def test_dedup_nothing_missing(alice, adir):
    data = rand_bytes(200 * KiB)
    chunks = split(data, 64 * KiB)
    alice.write_file(adir["id"], "one", data)
    g = alice.mkfile(adir["id"], "two")
    s = alice.open_upload(g["id"], chunks, 0)
    assert s["missing"] == [] and s["missing_bytes"] == 0, s
    alice.commit(s["id"])
    assert alice.download(g["id"]) == data
    # a file that shares only some chunks sends only the new ones
    h = alice.mkfile(adir["id"], "three")
    new = rand_bytes(64 * KiB)
    chunks3 = chunks[:2] + [new]
    s = alice.open_upload(h["id"], chunks3, 0)
    assert missing_hashes(s) == [sha(new)] and s["missing_bytes"] == len(new)
    alice.put_missing(s, chunks3)
    alice.commit(s["id"])
    assert alice.download(h["id"]) == b"".join(chunks3)


def test_same_chunk_twice_in_one_file(alice, adir):
    c = rand_bytes(10 * KiB)
    chunks = [c, c, c]
    f = alice.mkfile(adir["id"], "rep")
    s = alice.open_upload(f["id"], chunks, 0)
    assert set(missing_hashes(s)) == {sha(c)}
    assert s["missing_bytes"] in (len(c), 3 * len(c))
    alice.put_missing(s, chunks)
    alice.commit(s["id"])
    assert alice.download(f["id"]) == c * 3


def test_resume_sends_only_missing(alice, adir):
    chunks = [rand_bytes(100 * KiB + i) for i in range(5)]
    f = alice.mkfile(adir["id"], "resume.bin")
    s1 = alice.open_upload(f["id"], chunks, 0)
    assert len(s1["missing"]) == 5
    sent = {sha(chunks[0]), sha(chunks[3])}
    assert alice.put_missing(s1, chunks, only=sent) == 2
    # "crash": open again with the same node, base and chunk list
    s2 = alice.open_upload(f["id"], chunks, 0)
    assert s2["id"] == s1["id"]
    rest = [c for c in chunks if sha(c) not in sent]
    assert sorted(missing_hashes(s2)) == sorted(sha(c) for c in rest)
    assert s2["missing_bytes"] == sum(len(c) for c in rest)
    g = ok(alice.get("/v1/uploads/%s" % s1["id"]))
    assert g["id"] == s1["id"] and g["node"] == f["id"] and g["state"] == "open"
    assert sorted(missing_hashes(g)) == sorted(missing_hashes(s2))
    assert g["missing_bytes"] == s2["missing_bytes"]
    for m in g["missing"]:
        assert m["url"].startswith("/v1/chunks/" + m["hash"])
    # commit now: 409 missing_chunks naming the rest
    e = err(alice.commit(s1["id"], expect=None), 409, "missing_chunks")
    assert sorted(missing_hashes(e)) == sorted(sha(c) for c in rest), e
    assert alice.node(f["id"])["content_rev"] == 0
    # a different chunk list is a different session
    s3 = alice.open_upload(f["id"], chunks[:4], 0)
    assert s3["id"] != s1["id"]
    # send the rest with the URLs from GET and commit
    alice.put_missing(g, chunks)
    cj = alice.commit(s1["id"])
    assert cj["node"]["size"] == sum(len(c) for c in chunks)
    assert alice.download(f["id"]) == b"".join(chunks)


def test_commit_twice_same_answer(alice, adir):
    f = alice.mkfile(adir["id"], "twice")
    chunks = [rand_bytes(1000)]
    s = alice.open_upload(f["id"], chunks, 0)
    alice.put_missing(s, chunks)
    a = alice.commit(s["id"])
    b = alice.commit(s["id"])
    assert a["node"]["id"] == b["node"]["id"]
    assert a["node"]["content_rev"] == b["node"]["content_rev"]
    assert a["node"]["size"] == b["node"]["size"]
    assert a["conflict"] == b["conflict"] is None
    n = alice.node(f["id"])
    assert n["content_rev"] == a["node"]["content_rev"], "a replayed commit made a new revision"
    assert alice.names(adir["id"]) == ["twice"]


def test_upload_session_is_private(alice, bob, adir):
    f = alice.mkfile(adir["id"], "f")
    s = alice.open_upload(f["id"], [b"abc"], 0)
    err(bob.get("/v1/uploads/%s" % s["id"]), 404, "not_found")
    err(bob.post("/v1/uploads/%s/commit" % s["id"]), 404, "not_found")


def test_unknown_upload_404(alice):
    err(alice.get("/v1/uploads/doesnotexist"), (400, 404))
    err(alice.post("/v1/uploads/doesnotexist/commit"), (400, 404))


def test_sizes_not_adding_up_400(alice, adir):
    f = alice.mkfile(adir["id"], "f")
    c = [b"hello", b"world"]
    for size in (9, 11, 0):
        err(alice.open_upload(f["id"], c, 0, size=size, expect=None), 400,
            ("size_mismatch", "bad_request"))
    assert alice.node(f["id"])["content_rev"] == 0


@pytest.mark.parametrize("chunks,size", [
    ([{"hash": "0" * 64, "size": 0}], 0),                         # empty chunk
    ([{"hash": "0" * 64, "size": 64 * MiB + 1}], 64 * MiB + 1),   # chunk over 64 MiB
    ([{"hash": "0" * 64, "size": -5}], -5),
    ([{"hash": "0" * 63, "size": 5}], 5),
    ([{"hash": "0" * 65, "size": 5}], 5),
    ([{"hash": "A" * 64, "size": 5}], 5),
    ([{"hash": "g" * 64, "size": 5}], 5),
    ([{"hash": 5, "size": 5}], 5),
    ([{"size": 5}], 5),
    ([{"hash": "0" * 64}], 5),
    ([{"hash": "0" * 64, "size": 5, "extra": 1}], 5),
    (["0" * 64], 5),
    ({"hash": "0" * 64, "size": 5}, 5),
])
def test_bad_chunk_lists_400(alice, adir, chunks, size):
    f = alice.mkfile(adir["id"], "f")
    r = alice.post("/v1/uploads", {"node": f["id"], "base_rev": 0, "size": size,
                                   "chunks": chunks})
    if isinstance(chunks, list) and chunks and isinstance(chunks[0], dict) and \
            chunks[0].get("size", 0) > 64 * MiB:
        err(r, (400, 413))
    else:
        err(r, 400)


def test_upload_to_dir_refused(alice, adir):
    r = alice.open_upload(adir["id"], [b"x"], 0, expect=None)
    err(r, (400, 409), ("is_dir", "bad_request", "not_file"))


def test_upload_to_missing_node_404(alice):
    err(alice.open_upload(new_id(), [b"x"], 0, expect=None), 404, "not_found")


def test_chunk_put_wrong_bytes_400(alice, adir, anon):
    f = alice.mkfile(adir["id"], "f")
    good = rand_bytes(5000)
    s = alice.open_upload(f["id"], [good], 0)
    url = s["missing"][0]["url"]
    bad = bytearray(good)
    bad[100] ^= 1
    err(anon.put_chunk(url, bytes(bad)), 400, "hash_mismatch")
    err(anon.put_chunk(url, good[:-1]), 400, ("hash_mismatch", "size_mismatch"))
    err(anon.put_chunk(url, b""), 400, ("hash_mismatch", "size_mismatch", "bad_request"))
    # body larger than declared (the right bytes plus more)
    err(anon.put_chunk(url, good + b"extra"), (400, 413),
        ("hash_mismatch", "size_mismatch", "too_large"))
    # nothing was stored: still missing, commit refused
    g = ok(alice.get("/v1/uploads/%s" % s["id"]))
    assert missing_hashes(g) == [sha(good)]
    err(alice.commit(s["id"], expect=None), 409, "missing_chunks")
    ok(anon.put_chunk(url, good), 201)
    # the same chunk again: 200, already present
    ok(anon.put_chunk(url, good), 200)
    alice.commit(s["id"])
    assert alice.download(f["id"]) == good


def test_chunk_put_zstd(alice, adir, anon):
    f = alice.mkfile(adir["id"], "z.txt")
    plain = (b"compress me, I am very repetitive. " * 4000)[:128 * KiB]
    other = rand_bytes(1000)
    s = alice.open_upload(f["id"], [plain, other], 0)
    urls = {m["hash"]: m["url"] for m in s["missing"]}
    # a zstd frame that decompresses to other bytes: refused
    wrong = zstd_compress(plain[:-1] + b"X")
    err(anon.put_chunk(urls[sha(plain)], wrong, {"Content-Encoding": "zstd"}), 400,
        "hash_mismatch")
    # not zstd at all
    err(anon.put_chunk(urls[sha(plain)], b"this is not a zstd frame",
                       {"Content-Encoding": "zstd"}), 400)
    # a truncated frame
    z = zstd_compress(plain)
    err(anon.put_chunk(urls[sha(plain)], z[:len(z) // 2], {"Content-Encoding": "zstd"}), 400)
    # two frames back to back: not one frame of the chunk
    err(anon.put_chunk(urls[sha(plain)], z + z, {"Content-Encoding": "zstd"}), 400)
    assert sha(plain) in missing_hashes(ok(alice.get("/v1/uploads/%s" % s["id"])))
    # the right frame
    assert len(z) < len(plain) // 10
    j = ok(anon.put_chunk(urls[sha(plain)], z, {"Content-Encoding": "zstd"}), 201)
    assert j["hash"] == sha(plain) and j["size"] == len(plain)
    ok(anon.put_chunk(urls[sha(other)], zstd_compress(other), {"Content-Encoding": "zstd"}), 201)
    alice.commit(s["id"])
    assert alice.download(f["id"]) == plain + other


def test_chunk_put_needs_signature(alice, adir, anon):
    f = alice.mkfile(adir["id"], "f")
    data = rand_bytes(100)
    alice.open_upload(f["id"], [data], 0)
    err(anon.put_chunk("/v1/chunks/%s" % sha(data), data), 403, "bad_signature")
    # a bearer token does not replace the signature
    err(alice.put("/v1/chunks/%s" % sha(data), data=data), 403, "bad_signature")


def test_empty_file_upload(alice, adir):
    f = alice.write_file(adir["id"], "nonempty", b"something")
    s = alice.open_upload(f["id"], [], f["content_rev"])
    assert s["missing"] == [] and s["missing_bytes"] == 0 and s["size"] == 0
    cj = alice.commit(s["id"])
    assert cj["node"]["size"] == 0
    assert alice.content(f["id"])["chunks"] == []


def test_large_chunk_list_over_1mib_json_ok(alice, adir):
    # the upload endpoint takes up to 64 MiB of JSON; 20000 one-byte chunks
    # make ~1.9 MiB.
    f = alice.mkfile(adir["id"], "many")
    hs = [sha(bytes([i % 256, i // 256])) for i in range(20000)]
    body = {"node": f["id"], "base_rev": 0, "size": 2 * 20000,
            "chunks": [{"hash": h, "size": 2} for h in hs]}
    j = ok(alice.post("/v1/uploads", body, timeout=120))
    assert len(j["missing"]) <= 20000 and j["missing_bytes"] <= 40000
    assert len(j["missing"]) >= 19000   # nearly all of them are new


# ---- conflicts

CONFLICT_RE = r" \(conflicted copy (\d{4})-(\d{2})-(\d{2}) (\d{2})(\d{2})(\d{2})\)"


def _check_conflict_name(name, stem, ext):
    m = re.match("^" + re.escape(stem) + CONFLICT_RE + re.escape(ext) + "$", name)
    assert m, "bad conflicted-copy name %r" % name
    t = datetime.datetime(*map(int, m.groups()), tzinfo=datetime.timezone.utc).timestamp()
    assert abs(t - time.time()) < 30, "conflict time is not now (UTC): %r" % name


@pytest.mark.parametrize("name,stem,ext", [("report.txt", "report", ".txt"),
                                           ("Makefile", "Makefile", "")])
def test_stale_base_commit_makes_conflicted_copy(alice, carol, adir, name, stem, ext):
    f = alice.write_file(adir["id"], name, b"version zero")
    base = f["content_rev"]
    cur = alice.latest()
    a_data = b"first writer's bytes " * 50
    b_data = b"second writer's bytes " * 60
    ca, cb = split(a_data, 400), split(b_data, 500)
    sa = alice.open_upload(f["id"], ca, base)
    sb = alice.open_upload(f["id"], cb, base)
    assert sa["id"] != sb["id"]
    alice.put_missing(sa, ca)
    alice.put_missing(sb, cb)
    ja = alice.commit(sa["id"])
    assert ja["conflict"] is None
    jb = alice.commit(sb["id"])
    conflict = jb["conflict"]
    assert conflict is not None, jb
    check_node(conflict, parent=adir["id"], type="file", size=len(a_data), owner="alice")
    assert conflict["id"] != f["id"]
    _check_conflict_name(conflict["name"], stem, ext)
    check_node(jb["node"], id=f["id"], name=name, size=len(b_data))
    assert jb["node"]["content_rev"] > ja["node"]["content_rev"]
    names = alice.names(adir["id"])
    assert sorted(names) == sorted([name, conflict["name"]])
    assert alice.download(f["id"]) == b_data
    assert alice.download(conflict["id"]) == a_data
    # the feed tells other devices about the copy and the new content
    ev = alice.changes(cur)["changes"]
    assert [e["op"] for e in ev if e["node"]["id"] == conflict["id"]] == ["upsert"], ev
    assert [e["node"]["size"] for e in ev if e["node"]["id"] == f["id"]][-1] == len(b_data)
    # retrying the conflicting commit makes no second copy
    jb2 = alice.commit(sb["id"])
    assert jb2["conflict"] and jb2["conflict"]["id"] == conflict["id"]
    assert len(alice.names(adir["id"])) == 2


def test_stale_base_from_new_file(alice, adir):
    # two devices both create content for a file that was empty (base 0)
    f = alice.mkfile(adir["id"], "new.md")
    s1 = alice.open_upload(f["id"], [b"device one"], 0)
    s2 = alice.open_upload(f["id"], [b"device two"], 0)
    alice.put_missing(s1, [b"device one"])
    alice.put_missing(s2, [b"device two"])
    assert alice.commit(s1["id"])["conflict"] is None
    j = alice.commit(s2["id"])
    assert j["conflict"] is not None
    _check_conflict_name(j["conflict"]["name"], "new", ".md")
    assert alice.download(j["conflict"]["id"]) == b"device one"
    assert alice.download(f["id"]) == b"device two"


# ---- downloads

def test_content_of_dir_refused(alice, adir):
    err(alice.get("/v1/nodes/%s/content" % adir["id"]), (400, 409))


def test_content_of_missing_node_404(alice):
    err(alice.get("/v1/nodes/%s/content" % new_id()), 404, "not_found")


@pytest.mark.parametrize("params", [{"start": "-1"}, {"start": "x"}, {"limit": "-3"},
                                    {"limit": "abc"}])
def test_content_bad_paging_400(alice, adir, params):
    f = alice.write_file(adir["id"], "f", b"abc")
    err(alice.get("/v1/nodes/%s/content" % f["id"], params=params), 400)


def test_chunk_hashes_in_content_map_are_hex(alice, adir):
    f = alice.write_file(adir["id"], "f", rand_bytes(3000), chunk_size=1000)
    for c in alice.content(f["id"])["chunks"]:
        assert HEX64.match(c["hash"])
