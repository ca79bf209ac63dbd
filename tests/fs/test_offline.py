"""Offline: with dbxd stopped the mount keeps working from its cache and
queues; when dbxd is back (same port), everything arrives, on the server and
on the other device."""
import os

import pytest

from conftest import (SHARED_NAME, Account, MiB, T, assert_same_tree, assert_server_matches,
                      bounded, expect_errno, log, read_file, sha, sha_file, snapshot, wait_for,
                      write_file)


def wait_offline(m):
    return wait_for(lambda: m.status()["online"] is False, T(15),
                    "mount %s to report online: false" % m.name, interval=0.1)


@pytest.mark.watchdog(180)
def test_offline_work_arrives(own_server, make_mount):
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    b = make_mount(own_server, acct, "b")
    big = os.urandom(3 * MiB)
    os.makedirs(a.path("docs/old"))
    write_file(a.path("docs/cached.bin"), big)
    write_file(a.path("docs/edit.txt"), b"version 1\n")
    write_file(a.path("docs/rename-me"), b"rename")
    write_file(a.path("docs/delete-me"), b"delete")
    write_file(a.path("docs/old/inner"), b"inner")
    a.wait_idle()
    # B reads (and so caches) one file, and lists the tree
    wait_for(lambda: os.path.exists(b.path("docs/cached.bin")), T(15), "cached.bin on B")
    assert sha_file(b.path("docs/cached.bin")) == sha(big)
    assert sorted(os.listdir(b.path("docs"))) == sorted(os.listdir(a.path("docs")))

    own_server.stop()
    st = wait_offline(a)
    log("offline status A: %r" % st)
    # reads from the cache
    assert sha_file(a.path("docs/cached.bin")) == sha(big)
    assert sha_file(b.path("docs/cached.bin")) == sha(big)
    # creates, edits, renames, deletes: all local and quick
    os.mkdir(a.path("offline-dir"))
    os.makedirs(a.path("offline-dir/sub/deeper"))
    new_big = os.urandom(2 * MiB + 1)
    write_file(a.path("offline-dir/sub/deeper/new.bin"), new_big)
    write_file(a.path("offline-dir/small"), b"made offline")
    with open(a.path("docs/edit.txt"), "ab") as f:
        f.write(b"version 2, offline\n")
    os.rename(a.path("docs/rename-me"), a.path("offline-dir/renamed"))
    os.unlink(a.path("docs/delete-me"))
    os.rename(a.path("docs/old"), a.path("docs/new"))
    os.chmod(a.path("offline-dir/small"), 0o600)
    os.utime(a.path("offline-dir/small"), ns=(1700000000_5, 1700000000_123456789))
    os.symlink("small", a.path("offline-dir/link"))
    write_file(a.path("tmp-gone"), b"short-lived")
    os.unlink(a.path("tmp-gone"))
    # a file written then renamed over another while offline
    write_file(a.path("docs/edit.txt.tmp"), b"replaced offline\n")
    os.rename(a.path("docs/edit.txt.tmp"), a.path("docs/edit.txt"))
    assert read_file(a.path("docs/edit.txt")) == b"replaced offline\n"
    assert read_file(a.path("offline-dir/renamed")) == b"rename"
    expect_errno(2, os.stat, a.path("docs/delete-me"))
    st = a.status()
    log("offline status A after the work: %r" % st)
    assert st["online"] is False
    assert st["queued"] > 0, st
    # B works offline too (a file of its own)
    write_file(b.path("from-b-offline"), b"B offline")
    assert b.status()["online"] is False
    local_a = snapshot(a.mnt)

    own_server.restart()
    st = a.wait_idle(T(60))
    log("status A back online: %r" % st)
    b.wait_idle(T(60))
    # everything arrived: the server holds exactly A's tree (plus B's file)
    wait_for(lambda: os.path.exists(a.path("from-b-offline")), T(15), "B's offline file on A")
    assert_server_matches(a)
    local_a["from-b-offline"] = snapshot(a.mnt)["from-b-offline"]
    assert_same_tree(local_a, snapshot(a.mnt), "A while offline", "A after sync")
    assert read_file(a.path("from-b-offline")) == b"B offline"
    # and the other device sees it
    wait_for(lambda: os.path.exists(b.path("offline-dir/sub/deeper/new.bin")), T(15),
             "A's offline files on B")
    wait_for(lambda: not os.path.exists(b.path("docs/delete-me")), T(15), "the delete on B")
    b.wait_idle()
    assert_same_tree(snapshot(a.mnt), snapshot(b.mnt), "A", "B")
    assert sha_file(b.path("offline-dir/sub/deeper/new.bin")) == sha(new_big)
    assert read_file(b.path("docs/edit.txt")) == b"replaced offline\n"


@pytest.mark.watchdog(180)
def test_offline_uncached_read_does_not_hang(own_server, make_mount):
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    b = make_mount(own_server, acct, "b")
    data = os.urandom(1 * MiB)
    write_file(a.path("only-on-a"), data)
    a.wait_idle()
    wait_for(lambda: os.path.exists(b.path("only-on-a")), T(15), "only-on-a on B")
    own_server.stop()
    wait_offline(b)
    # B never read it: the bytes are not in its cache. The read must end
    # (with the bytes or an error), not hang.
    try:
        got = bounded(read_file, b.path("only-on-a"), timeout=T(40), what="uncached read offline")
        assert got == data, "an offline read returned wrong bytes"
    except OSError as e:
        log("uncached read offline: %s" % e)
    own_server.restart()
    b.wait_idle(T(60))
    assert read_file(b.path("only-on-a")) == data


@pytest.mark.watchdog(180)
def test_mount_offline_with_cache(own_server, make_mount):
    """A device that has a cache mounts while dbxd is down, works, and
    catches up when dbxd is back."""
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    write_file(a.path("kept"), b"in the cache")
    os.mkdir(a.path("dir"))
    a.wait_idle()
    a.unmount()
    own_server.stop()
    a.mount()
    assert read_file(a.path("kept")) == b"in the cache"
    assert a.status()["online"] is False
    write_file(a.path("dir/while-down"), b"written with dbxd down")
    os.rename(a.path("kept"), a.path("dir/kept"))
    own_server.restart()
    a.wait_idle(T(60))
    assert_server_matches(a)
    assert a.account.download(a.account.lookup("dir/while-down")["id"]) == b"written with dbxd down"


def b_away_while_a_writes(server, a, b, b_work, a_file):
    """B does b_work offline and unmounts (its work waits in its journal);
    with dbxd back, A writes a_file; then B mounts again and pushes."""
    server.stop()
    wait_offline(b)
    b_work()
    b.unmount()
    server.restart()
    a.wait_idle(T(60))
    write_file(a.path(a_file), b"added while B was away")
    a.wait_idle()
    b.mount()
    b.wait_idle(T(60))


@pytest.mark.watchdog(180)
def test_delete_of_dir_filled_elsewhere_brings_it_back(own_server, make_mount):
    """B removes a directory while away; meanwhile A puts a file in it. B's
    delete reaches dbxd after A's file (409 not_empty): nothing is lost, the
    directory comes back on B holding A's file; what B deleted inside it
    stays deleted."""
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    b = make_mount(own_server, acct, "b")
    os.makedirs(a.path("d"))
    write_file(a.path("d/old.txt"), b"old")
    a.wait_idle()
    wait_for(lambda: os.path.exists(b.path("d/old.txt")), T(15), "d/old.txt on B")
    def b_deletes():
        os.unlink(b.path("d/old.txt"))
        os.rmdir(b.path("d"))
    b_away_while_a_writes(own_server, a, b, b_deletes, "d/new.txt")
    wait_for(lambda: os.path.exists(b.path("d/new.txt")), T(15), "d and A's file back on B")
    assert read_file(b.path("d/new.txt")) == b"added while B was away"
    assert sorted(os.listdir(b.path("d"))) == ["new.txt"]
    assert sorted(os.listdir(a.path("d"))) == ["new.txt"]
    assert "was not deleted" in b.log_tail()


@pytest.mark.watchdog(180)
def test_queued_changes_go_in_batches(own_server, make_mount):
    """Work queued while away reaches dbxd many operations per request
    (POST /v1/batch), in order, and all of it arrives."""
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    os.listdir(a.mnt)
    own_server.stop()
    wait_offline(a)
    for i in range(300):
        os.mkdir(a.path("d%03d" % i))
    for i in range(0, 300, 3):
        os.rename(a.path("d%03d" % i), a.path("d%03d/moved" % (i + 1)))
    for i in range(2, 300, 3):
        os.rmdir(a.path("d%03d" % i))
    own_server.restart()
    a.wait_idle(T(60))
    with open(own_server.log_path, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()[-2000:]
    batches = [l for l in lines if "POST /v1/batch 200" in l]
    singles = [l for l in lines if "POST /v1/nodes " in l or "PATCH /v1/nodes/" in l or
               "DELETE /v1/nodes/" in l]
    log("500 queued operations went in %d batches and %d single requests" % (
        len(batches), len(singles)))
    assert 1 <= len(batches) <= 10 and len(singles) <= 5
    assert_server_matches(a)
    assert sorted(set(os.listdir(a.mnt)) - {SHARED_NAME}) == ["d%03d" % i for i in range(1, 300, 3)]
    assert os.listdir(a.path("d001")) == ["moved"]


@pytest.mark.watchdog(180)
def test_rename_over_dir_filled_elsewhere_keeps_both(own_server, make_mount):
    """B renames X over the empty directory Y while away; meanwhile A puts a
    file in Y. dbxd refuses to replace the now non-empty Y (409 not_empty):
    Y stays, with A's file, on both devices, and B's X becomes the
    conflicted copy beside it."""
    acct = Account(own_server)
    a = make_mount(own_server, acct, "a")
    b = make_mount(own_server, acct, "b")
    os.makedirs(a.path("X"))
    write_file(a.path("X/x.txt"), b"from X")
    os.makedirs(a.path("Y"))
    a.wait_idle()
    wait_for(lambda: os.path.exists(b.path("X/x.txt")) and os.path.isdir(b.path("Y")), T(15),
             "X and Y on B")
    os.listdir(b.path("Y"))
    def b_renames():
        os.rename(b.path("X"), b.path("Y"))      # rename(2) replaces an empty directory
        assert os.listdir(b.path("Y")) == ["x.txt"]
    b_away_while_a_writes(own_server, a, b, b_renames, "Y/new.txt")

    def both_on(m):
        names = set(os.listdir(m.mnt)) - {SHARED_NAME}
        copies = [n for n in names if n.startswith("Y (conflicted copy")]
        return "Y" in names and len(copies) == 1 and copies[0]
    copy = wait_for(lambda: both_on(b), T(15), "Y and the conflicted copy on B")
    assert os.listdir(b.path("Y")) == ["new.txt"]
    assert read_file(b.path(copy, "x.txt")) == b"from X"
    wait_for(lambda: both_on(a) == copy, T(15), "the same on A")
    assert read_file(a.path("Y/new.txt")) == b"added while B was away"
    assert_server_matches(b)
