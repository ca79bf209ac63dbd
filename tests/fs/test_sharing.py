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


def test_revoke_and_latency(alice_bob, capsys):
    a, b, alice, bob = alice_bob
    write_file(a.path("s.txt"), b"shared then revoked\n")
    a.wait_idle()
    nid = node_id(a, "s.txt")
    listing(b)
    share_lat, revoke_lat = [], []
    for _ in range(5):
        t0 = time.time()
        alice.api.share(nid, [bob.user], "viewer")
        wait_for(lambda: listing(b) == ["s.txt"], T(10), "the share", interval=0.005)
        share_lat.append(time.time() - t0)
        assert read_file(b.path(SHARED, "s.txt")) == b"shared then revoked\n"
        t0 = time.time()
        r = alice.api.delete("/v1/nodes/%s/shares/%s" % (nid, bob.user))
        assert r.status_code == 200, r.text
        wait_for(lambda: listing(b) == [], T(10), "the revoke", interval=0.005)
        revoke_lat.append(time.time() - t0)
    with capsys.disabled():
        print("\n[fs] share visible after: max %.3fs, median %.3fs; revoke: max %.3fs, "
              "median %.3fs" % (max(share_lat), sorted(share_lat)[2], max(revoke_lat),
                                sorted(revoke_lat)[2]))
    assert max(share_lat + revoke_lat) < 5


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
