"""dbxd scrub: damaged chunks are found, quarantined and marked missing, and
the next upload of the same bytes repairs the store."""
import os

from conftest import KiB, chunk_files, dbxd_run, rand_bytes, sha


def flip_middle_byte(path):
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        b = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([b[0] ^ 0xFF]))


def scrub(srv):
    return dbxd_run(["scrub", "-d", srv.datadir])


def test_scrub_of_a_healthy_store(make_server):
    srv = make_server("scrubok")
    c = srv.client("alice")
    c.write_file(c.root, "a", rand_bytes(30 * KiB))
    c.write_file(c.root, "b", b"compressible text\n" * 5000)   # stored as zstd
    r = scrub(srv)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "damaged" in r.stdout and " 0 damaged" in r.stdout, r.stdout


def test_scrub_quarantines_and_an_upload_repairs(make_server):
    srv = make_server("scrubbad")
    c = srv.client("alice")
    good, bad = rand_bytes(20 * KiB), rand_bytes(20 * KiB)
    f = c.write_file(c.root, "f", good + bad, chunk_size=20 * KiB)
    flip_middle_byte(chunk_files(srv.datadir)[sha(bad)])

    r = scrub(srv)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 damaged" in r.stdout, r.stdout
    files = chunk_files(srv.datadir)
    assert "/quarantine/" in files[sha(bad)] and "/quarantine/" not in files[sha(good)]
    assert os.listdir(os.path.join(srv.datadir, "chunks", "quarantine")) == [sha(bad)]

    # the damaged chunk is now missing: served as 404, asked for again
    urls = {ch["hash"]: ch["url"] for ch in c.content(f["id"])["chunks"]}
    assert c.s.get(c.url(urls[sha(bad)]), timeout=10).status_code == 404
    g = c.mkfile(c.root, "g")
    s = c.open_upload(g["id"], [good, bad], 0)
    assert [m["hash"] for m in s["missing"]] == [sha(bad)]
    c.put_missing(s, [good, bad])
    c.commit(s["id"])
    assert c.download(f["id"]) == good + bad          # the old file is whole again
    assert scrub(srv).returncode == 0
