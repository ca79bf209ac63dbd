"""The cache's cap: cache_size bounds the block cache and the clean local
copies together. Copies of files whose bytes are all on the server are
evicted least recently used first; a copy holding bytes the server lacks, or
one of an open file, is never evicted; an evicted file reads back from dbxd."""
import os
import re
import time

import pytest

from conftest import Account, MiB, T, log, sha, sha_file, wait_for, write_random

CAP = 64 * MiB
FILE = 16 * MiB
COUNT = 6                       # 96 MiB of copies: a third must go


def copies(m):
    """{node id: bytes on disk} of the mount's local copies (staging files)."""
    d = os.path.join(m.cache_dir, "staging")
    out = {}
    for name in os.listdir(d):
        if re.fullmatch(r"[0-9a-f]{16}", name):
            out[name] = os.stat(os.path.join(d, name)).st_blocks * 512
    return out


def staging_name(m, path):
    return "%016x" % int(m.node_id(path), 16)


@pytest.mark.watchdog(240)
def test_copies_evicted_to_cap_never_dirty_or_open(own_server, make_mount):
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a", extra=("cache_size=64M",))
    os.listdir(a.mnt)           # the root is listed, so it works offline
    own_server.stop()
    wait_for(lambda: a.status()["online"] is False, T(15), "A offline", interval=0.1)
    digests = {}
    for i in range(COUNT):
        p = a.path("f%d" % i)
        digests[p] = write_random(p, FILE)
    # Offline, every copy holds bytes the server lacks: over the cap, and
    # still nothing may go (two 5 s ticks).
    held = copies(a)
    assert sum(held.values()) > CAP
    time.sleep(11)
    assert copies(a) == held, "a copy with unsent bytes was evicted"

    # f0 is the least recently used; holding it open keeps it.
    keep = open(a.path("f0"), "rb")
    try:
        own_server.restart()
        a.wait_idle(T(120))
        wait_for(lambda: sum(copies(a).values()) <= CAP, T(20),
                 "the local copies to shrink to the cap", interval=0.2)
        left = copies(a)
        log("copies after eviction: %d of %d, %d MiB" % (
            len(left), COUNT, sum(left.values()) // MiB))
        assert staging_name(a, a.path("f0")) in left, "the open file's copy was evicted"
        assert staging_name(a, a.path("f1")) not in left, "LRU order: f1 should go first"
        assert sha(keep.read()) == digests[a.path("f0")]
    finally:
        keep.close()
    assert "local copies evicted" in a.log_tail()
    # evicted files read back from dbxd, the same bytes; writing one again
    # makes a fresh copy from the server first
    for p, digest in digests.items():
        assert sha_file(p) == digest, p
    with open(a.path("f1"), "r+b") as f:
        f.seek(FILE - 5)
        f.write(b"tail!")
    with open(a.path("f1"), "rb") as f:
        f.seek(FILE - 10)
        tail = f.read()
    assert len(tail) == 10 and tail.endswith(b"tail!")
    a.wait_idle()
    b = make_mount(own_server, acct, "b")
    with open(b.path("f1"), "rb") as f:
        f.seek(FILE - 10)
        assert f.read() == tail
