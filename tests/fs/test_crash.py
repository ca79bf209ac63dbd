"""Crashes: pending work (the journal, dirty files, half-done uploads)
survives kill -9 of dbxfs and a remount with the same cache_dir."""
import os
import time

import pytest

from conftest import (ls, MiB, T, assert_server_matches, bounded, log, read_file, sha, sha_file,
                      wait_for, write_file, write_random)

CRASH_MIB = 300


def _progress(status):
    """(chunks done, chunks total) of the uploads in a status, as far as
    the status tells (0, 0 when it has no per-upload detail)."""
    ups = status.get("uploads") or []
    return (sum(u.get("chunks_done", 0) for u in ups), sum(u.get("chunks_total", 0) for u in ups))


@pytest.mark.watchdog(300)
def test_kill9_mid_upload(mnt, capsys):
    p = mnt.path("big.bin")
    t0 = time.time()
    digest = write_random(p, CRASH_MIB * MiB)
    t1 = time.time()
    log("wrote %d MiB in %.1fs" % (CRASH_MIB, t1 - t0))
    pid = mnt.pidfile_pid()
    assert pid == mnt.proc.pid, "pid file says %d, dbxfs is %d" % (pid, mnt.proc.pid)
    # kill as soon as the upload is under way
    seen = []

    def uploading():
        s = mnt.status(timeout=T(10))
        seen.append(s)
        if s["uploading"] == 0 and s["dirty"] == 0:
            return True          # nothing pending any more: the assert below says so
        ups = [u for u in s.get("uploads") or [] if "chunks_done" in u]
        if ups and time.time() - t1 < T(20):
            # the status details the transfer: kill once some chunks are up
            return any(0 < u["chunks_done"] < u.get("chunks_total", 0) for u in ups)
        return s["uploading"] > 0 or time.time() - t1 > T(5)

    wait_for(uploading, T(60), "the upload to start", interval=0.005)
    last = seen[-1]
    mnt.kill9(pid)
    log("killed dbxfs %.2fs after close, status then %r" % (time.time() - t1, last))
    assert last["uploading"] > 0 or last["dirty"] > 0, \
        "the upload was over before the kill (status %r)" % (last,)
    srv = mnt.account.lookup("big.bin")
    log("server at the kill: %r" % (srv and {k: srv[k] for k in ("size", "content_rev")},))
    # remount the same cache_dir; the upload resumes
    mnt.mount()
    st = mnt.wait_idle(T(180))
    log("idle %.1fs after the remount: %r" % (time.time() - t1, st))
    with capsys.disabled():
        print("\n[fs] %d MiB: written in %.1fs, killed with %d of %d chunks up, "
              "idle %.1fs after close" % (
                  CRASH_MIB, t1 - t0, *_progress(last), time.time() - t1))
    node = mnt.account.lookup("big.bin")
    assert node is not None and node["size"] == CRASH_MIB * MiB, node
    assert sha(mnt.account.download(node["id"])) == digest, "the server's bytes differ"
    assert bounded(sha_file, p, timeout=T(120)) == digest, "the mount's bytes differ"
    assert ls(mnt) == ["big.bin"]


@pytest.mark.watchdog(180)
def test_kill9_right_after_close(mnt):
    os.makedirs(mnt.path("d/e"))
    files = {"d/e/a.bin": os.urandom(4 * MiB + 7), "d/small": b"small",
             "top": os.urandom(100000)}
    for rel, data in files.items():
        write_file(mnt.path(rel), data)
    os.rename(mnt.path("d/e"), mnt.path("moved"))
    files["moved/a.bin"] = files.pop("d/e/a.bin")
    os.symlink("top", mnt.path("link"))
    os.chmod(mnt.path("top"), 0o600)
    st = mnt.status()
    mnt.kill9()
    log("killed right after close; status then %r" % st)
    mnt.mount()
    # what the mount shows at once, before anything is pushed
    for rel, data in files.items():
        assert read_file(mnt.path(rel)) == data, rel
    assert os.readlink(mnt.path("link")) == "top"
    assert ls(mnt) == ["d", "link", "moved", "top"]
    assert_server_matches(mnt, timeout=T(90))


@pytest.mark.watchdog(180)
def test_kill9_during_edits_then_more_edits(mnt):
    """A crash between edits of one file: the last closed version wins, and
    work done after the remount queues behind what was pending."""
    p = mnt.path("f")
    for i in range(5):
        write_file(p, b"version %d\n" % i * 10000)
    mnt.kill9()
    mnt.mount()
    assert read_file(p) == b"version 4\n" * 10000
    with open(p, "ab") as f:
        f.write(b"after the crash\n")
    os.rename(p, mnt.path("g"))
    assert_server_matches(mnt, timeout=T(90))
    node = mnt.account.lookup("g")
    assert mnt.account.download(node["id"]) == b"version 4\n" * 10000 + b"after the crash\n"


@pytest.mark.watchdog(240)
def test_write_during_resumed_upload(mnt):
    """A write after the remount, while the upload left by the crash runs:
    that upload's commit must not clear the newer write's dirty mark (write
    generations once restarted at each mount, and collided)."""
    p = mnt.path("big.bin")
    write_random(p, 64 * MiB)
    mnt.kill9()
    mnt.mount()

    def uploading():
        s = mnt.status(timeout=T(10))
        assert s["dirty"] > 0, "the upload ended before the append: %r" % (s,)
        # past its scan: the bytes it sends are fixed
        return any(u.get("phase", 0) >= 2 for u in s.get("uploads") or [])
    wait_for(uploading, T(30), "the resumed upload to send", interval=0.002)
    with open(p, "ab") as f:
        f.write(b"written while the old upload ran\n")
    want = sha_file(p)
    mnt.wait_idle(T(120))
    node = mnt.account.lookup("big.bin")
    assert node["size"] == 64 * MiB + 33, node
    assert sha(mnt.account.download(node["id"])) == want


@pytest.mark.watchdog(180)
def test_kill9_before_release_is_handled(mnt):
    """close() does not wait for dbxfs (no FLUSH; RELEASE goes in the
    background), so a kill can come after close() returned and before the
    release was handled. The files still open at the kill are in that very
    state (written, never released): their bytes, size and mtime survive
    and reach the server, as do those of the files just closed."""
    files = {"f%02d" % i: os.urandom(1000 * i + 1) for i in range(40)}
    seen, held = {}, []
    for i, (rel, data) in enumerate(files.items()):
        f = open(mnt.path(rel), "wb")
        time.sleep(0.05)                        # the write's mtime is not the create's
        f.write(data)
        f.flush()
        seen[rel] = os.fstat(f.fileno())
        if i % 2:
            held.append(f)
        else:
            f.close()
    mnt.kill9()
    for f in held:
        try:
            f.close()
        except OSError:
            pass                                # the mount is gone: ENOTCONN
    mnt.mount()
    recovered = mnt.log_tail().count("written before a crash")
    log("recovered before a release: %d" % recovered)
    assert recovered >= len(held)
    for rel, data in files.items():
        st = os.stat(mnt.path(rel))
        assert read_file(mnt.path(rel)) == data, rel
        assert st.st_size == len(data), rel
        assert abs(st.st_mtime_ns - seen[rel].st_mtime_ns) < 15_000_000, rel   # ext4 stamps by the tick
    assert_server_matches(mnt, timeout=T(90))
