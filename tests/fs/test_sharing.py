"""Sharing between two users, each with a mount of their own: the virtual
`Shared with me` directory, viewer and editor roles, revoking, shared
folders, and how long a share or a revoke takes to show (printed)."""
import errno
import os
import time

import pytest

from conftest import (ID_XATTR, T, expect_errno, log, read_file, wait_for, write_file)

SHARED = "Shared with me"


@pytest.fixture
def alice_bob(own_server, make_mount):
    from conftest import Account
    alice, bob = Account(own_server), Account(own_server)
    a = make_mount(own_server, alice, "alice")
    b = make_mount(own_server, bob, "bob")
    return a, b, alice, bob


def node_id(m, rel):
    return os.getxattr(m.path(rel), ID_XATTR).decode()


def share(m, rel, user, role):
    m.wait_idle()
    m.account.api.share(node_id(m, rel), [user], role)


def listing(m):
    return sorted(os.listdir(m.path(SHARED)))


def test_shared_dir_is_virtual_and_reserved(alice_bob):
    a, b, alice, bob = alice_bob
    assert SHARED in os.listdir(b.mnt)
    assert listing(b) == []
    st = os.stat(b.path(SHARED))
    assert st.st_mode & 0o777 == 0o555
    expect_errno(errno.EACCES, write_file, b.path(SHARED, "new.txt"), b"x")
    expect_errno(errno.EACCES, os.mkdir, b.path(SHARED, "d"))
    expect_errno(errno.EACCES, os.symlink, "t", b.path(SHARED, "l"))
    expect_errno(errno.EEXIST, os.mkdir, b.path(SHARED))
    expect_errno(errno.EACCES, os.rmdir, b.path(SHARED))
    expect_errno(errno.EACCES, os.rename, b.path(SHARED), b.path("mine"))


def test_viewer_reads_cannot_write(alice_bob):
    a, b, alice, bob = alice_bob
    data = os.urandom(300 * 1024)
    write_file(a.path("report.pdf"), data)
    share(a, "report.pdf", bob.user, "viewer")
    wait_for(lambda: listing(b) == ["report.pdf"], T(10), "the share on bob's mount")
    p = b.path(SHARED, "report.pdf")
    assert read_file(p) == data
    assert os.stat(p).st_mode & 0o222 == 0
    expect_errno(errno.EACCES, write_file, p, b"overwrite")
    expect_errno(errno.EACCES, os.truncate, p, 0)
    expect_errno(errno.EACCES, os.chmod, p, 0o666)
    expect_errno(errno.EACCES, os.unlink, p)
    expect_errno(errno.EACCES, os.rename, p, b.path(SHARED, "other.pdf"))
    assert read_file(a.path("report.pdf")) == data


def test_editor_writes_reach_owner(alice_bob):
    a, b, alice, bob = alice_bob
    write_file(a.path("notes.txt"), b"alice's first line\n")
    share(a, "notes.txt", bob.user, "editor")
    p = b.path(SHARED, "notes.txt")
    wait_for(lambda: read_file(p) == b"alice's first line\n", T(10), "the share on bob's mount")
    with open(p, "ab") as f:
        f.write(b"bob's line\n")
    want = b"alice's first line\nbob's line\n"
    wait_for(lambda: read_file(a.path("notes.txt")) == want, T(15), "bob's edit on alice's mount")
    # and alice's next edit reaches bob
    write_file(a.path("notes.txt"), b"rewritten by alice\n")
    wait_for(lambda: read_file(p) == b"rewritten by alice\n", T(15), "alice's edit on bob's mount")


def _pct(xs, q):
    """The q-th percentile, nearest rank."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * len(xs) + 0.5)) - 1))]


LATENCY_ROUNDS = 30


def test_revoke_and_latency(alice_bob, capsys):
    """Each round shares and revokes; the time runs from the owner's API
    call to the recipient's mount listing the change."""
    a, b, alice, bob = alice_bob
    write_file(a.path("s.txt"), b"shared then revoked\n")
    a.wait_idle()
    nid = node_id(a, "s.txt")
    listing(b)
    share_lat, revoke_lat = [], []
    for _ in range(LATENCY_ROUNDS):
        t0 = time.time()
        alice.api.share(nid, [bob.user], "viewer")
        wait_for(lambda: listing(b) == ["s.txt"], T(10), "the share", interval=0.002)
        share_lat.append(time.time() - t0)
        assert read_file(b.path(SHARED, "s.txt")) == b"shared then revoked\n"
        t0 = time.time()
        r = alice.api.delete("/v1/nodes/%s/shares/%s" % (nid, bob.user))
        assert r.status_code == 200, r.text
        wait_for(lambda: listing(b) == [], T(10), "the revoke", interval=0.002)
        revoke_lat.append(time.time() - t0)
    expect_errno(errno.ENOENT, os.stat, b.path(SHARED, "s.txt"))
    with capsys.disabled():
        print("\n[fs] %d rounds: share visible after p50 %.1f ms, p99 %.1f ms; revoke "
              "p50 %.1f ms, p99 %.1f ms (pytest tests/fs/test_sharing.py -k latency)" % (
                  LATENCY_ROUNDS, 1000 * _pct(share_lat, 50), 1000 * _pct(share_lat, 99),
                  1000 * _pct(revoke_lat, 50), 1000 * _pct(revoke_lat, 99)))
    # generous against a slow CI machine; the figure is what the note reports
    assert _pct(share_lat + revoke_lat, 99) < T(2)


def test_shared_folder_and_name_clash(alice_bob, own_server, make_mount):
    from conftest import Account
    a, b, alice, bob = alice_bob
    carol = Account(own_server)
    c = make_mount(own_server, carol, "carol")
    os.makedirs(a.path("proj/src"))
    write_file(a.path("proj/src/main.c"), b"int main(void) { return 0; }\n")
    write_file(a.path("proj/README"), b"alice's project\n")
    share(a, "proj", bob.user, "editor")
    os.mkdir(c.path("proj"))
    share(c, "proj", bob.user, "viewer")
    want = sorted(["proj (%s)" % alice.user, "proj (%s)" % carol.user])
    wait_for(lambda: listing(b) == want, T(10), "both shares, told apart by owner")
    mine = b.path(SHARED, "proj (%s)" % alice.user)
    assert read_file(os.path.join(mine, "src/main.c")) == b"int main(void) { return 0; }\n"
    # an editor creates inside the shared folder: it reaches alice
    write_file(os.path.join(mine, "src/util.c"), b"/* bob */\n")
    wait_for(lambda: read_file(a.path("proj/src/util.c")) == b"/* bob */\n", T(15),
             "bob's new file on alice's mount")
    # moving between trees of different owners: EXDEV (mv copies instead)
    write_file(b.path("own.txt"), b"bob's own\n")
    expect_errno(errno.EXDEV, os.rename, b.path("own.txt"), os.path.join(mine, "own.txt"))
    # carol's share is read-only for bob
    theirs = b.path(SHARED, "proj (%s)" % carol.user)
    expect_errno(errno.EACCES, write_file, os.path.join(theirs, "x"), b"x")
    log("bob sees %r" % listing(b))


def test_role_change_reaches_the_whole_subtree(alice_bob):
    """viewer -> editor -> viewer on a folder: the nodes bob's mount already
    knows below it follow the new role (they took the old one when placed)."""
    a, b, alice, bob = alice_bob
    os.makedirs(a.path("team/docs"))
    write_file(a.path("team/docs/plan.txt"), b"v1\n")
    share(a, "team", bob.user, "viewer")
    p = b.path(SHARED, "team/docs/plan.txt")
    wait_for(lambda: os.path.exists(p), T(10), "the share on bob's mount")
    assert read_file(p) == b"v1\n"
    expect_errno(errno.EACCES, write_file, p, b"bob v2\n")
    expect_errno(errno.EACCES, write_file, b.path(SHARED, "team/docs/new.txt"), b"x")
    alice.api.share(node_id(a, "team"), [bob.user], "editor")
    wait_for(lambda: os.stat(p).st_mode & 0o200, T(10), "write access on bob's mount")
    write_file(p, b"bob v2\n")
    write_file(b.path(SHARED, "team/docs/new.txt"), b"new from bob\n")
    wait_for(lambda: read_file(a.path("team/docs/plan.txt")) == b"bob v2\n", T(15),
             "bob's edit on alice's mount")
    wait_for(lambda: os.path.exists(a.path("team/docs/new.txt")), T(15), "bob's new file")
    b.wait_idle()
    alice.api.share(node_id(a, "team"), [bob.user], "viewer")
    wait_for(lambda: not os.stat(p).st_mode & 0o200, T(10), "read-only again on bob's mount")
    expect_errno(errno.EACCES, write_file, p, b"bob v3\n")
    assert read_file(a.path("team/docs/plan.txt")) == b"bob v2\n"
