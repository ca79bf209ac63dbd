"""POSIX behaviour of one dbxfs mount, errno as ext4 would return it, and
that the result reaches dbxd (the server's tree is compared with the mount's
at the end of most tests) and survives an unmount/remount."""
import ctypes
import errno
import json
import mmap
import os
import platform
import random
import re
import stat
import time

import pytest

from conftest import (ls, ID_XATTR, MiB, STATUS_XATTR, T, assert_same_tree, assert_server_matches,
                      bounded, expect_errno, log, read_file, sha, sha_file, snapshot,
                      write_file)

# --------------------------------------------------------------------------
# renameat2

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)
_SYS_renameat2 = {"x86_64": 316, "aarch64": 276}.get(platform.machine())


def renameat2(old, new, flags):
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    fn = getattr(_libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_uint]
        r = fn(AT_FDCWD, old_b, AT_FDCWD, new_b, flags)
    else:
        assert _SYS_renameat2, "no renameat2 on this machine"
        _libc.syscall.restype = ctypes.c_long
        r = _libc.syscall(ctypes.c_long(_SYS_renameat2), ctypes.c_int(AT_FDCWD),
                          ctypes.c_char_p(old_b), ctypes.c_int(AT_FDCWD),
                          ctypes.c_char_p(new_b), ctypes.c_uint(flags))
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old, None, new)


def xid(path):
    return os.getxattr(path, ID_XATTR).decode()


# --------------------------------------------------------------------------
# files

def test_create_read_write_excl(mnt):
    p = mnt.path("hello.txt")
    write_file(p, b"hello, world\n")
    assert read_file(p) == b"hello, world\n"
    st = os.stat(p)
    assert stat.S_ISREG(st.st_mode) and st.st_size == 13 and st.st_nlink == 1
    assert stat.S_IMODE(st.st_mode) == 0o644          # 0666 & ~022
    assert abs(st.st_mtime - time.time()) < 30
    # O_EXCL on an existing name
    expect_errno(errno.EEXIST, os.open, p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    fd = os.open(mnt.path("new"), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        assert os.write(fd, b"abc") == 3
        assert os.pread(fd, 10, 0) == b"abc"
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(mnt.path("new")).st_mode) == 0o600
    # an empty file
    open(mnt.path("empty"), "wb").close()
    assert os.stat(mnt.path("empty")).st_size == 0 and read_file(mnt.path("empty")) == b""
    assert ls(mnt) == ["empty", "hello.txt", "new"]
    # mtime moves on write
    os.utime(p, ns=(10**18, 10**18))
    with open(p, "r+b") as f:
        f.write(b"J")
    assert abs(os.stat(p).st_mtime - time.time()) < 30
    assert_server_matches(mnt)


def test_append(mnt):
    p = mnt.path("log")
    write_file(p, b"one\n")
    with open(p, "ab") as f:
        f.write(b"two\n")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    fd2 = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)           # O_APPEND ignores the offset
        os.write(fd, b"three\n")
        os.write(fd2, b"four\n")
        os.write(fd, b"five\n")
    finally:
        os.close(fd)
        os.close(fd2)
    assert read_file(p) == b"one\ntwo\nthree\nfour\nfive\n"
    # append to a big file, past a chunk's worth of bytes
    big = os.urandom(3 * MiB + 17)
    write_file(mnt.path("big"), big)
    with open(mnt.path("big"), "ab") as f:
        f.write(b"tail")
    assert sha_file(mnt.path("big")) == sha(big + b"tail")
    assert_server_matches(mnt)


def test_overwrite(mnt):
    p = mnt.path("f")
    data = bytearray(os.urandom(2 * MiB))
    write_file(p, bytes(data))
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b"X" * 1000, 12345)
        os.pwrite(fd, b"Y" * 10, len(data) - 5)       # across the end: grows by 5
    finally:
        os.close(fd)
    data[12345:13345] = b"X" * 1000
    data[len(data) - 5:] = b"Y" * 10
    assert os.stat(p).st_size == 2 * MiB + 5
    assert read_file(p) == bytes(data)
    # O_TRUNC replaces everything
    write_file(p, b"short")
    assert read_file(p) == b"short" and os.stat(p).st_size == 5
    # rewrite of the same bytes the server already has, then different ones
    write_file(mnt.path("g"), b"v1" * 5000)
    assert_server_matches(mnt)
    write_file(mnt.path("g"), b"v2" * 5000)
    assert read_file(mnt.path("g")) == b"v2" * 5000
    assert_server_matches(mnt)


def test_sparse(mnt):
    p = mnt.path("sparse")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.lseek(fd, 10 * MiB, os.SEEK_SET)
        os.write(fd, b"end")
        os.pwrite(fd, b"mid", 3 * MiB)
        assert os.fstat(fd).st_size == 10 * MiB + 3
        assert os.pread(fd, 4096, 0) == bytes(4096)
        assert os.pread(fd, 8, 3 * MiB - 2) == b"\0\0mid\0\0\0"
    finally:
        os.close(fd)
    expect = bytearray(10 * MiB + 3)
    expect[3 * MiB:3 * MiB + 3] = b"mid"
    expect[10 * MiB:] = b"end"
    assert read_file(p) == bytes(expect)
    # a hole after the end of a non-empty file
    write_file(mnt.path("s2"), b"abc")
    with open(mnt.path("s2"), "r+b") as f:
        f.seek(100000)
        f.write(b"z")
    assert read_file(mnt.path("s2")) == b"abc" + bytes(100000 - 3) + b"z"
    assert_server_matches(mnt)


def test_truncate(mnt):
    p = mnt.path("t")
    data = os.urandom(1 * MiB)
    write_file(p, data)
    os.truncate(p, 1000)
    assert os.stat(p).st_size == 1000 and read_file(p) == data[:1000]
    os.truncate(p, 5000)                       # up: zeros, never the old bytes
    assert read_file(p) == data[:1000] + bytes(4000)
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, 10)
        assert os.fstat(fd).st_size == 10
        assert os.pread(fd, 100, 0) == data[:10]
        os.ftruncate(fd, 3 * MiB)
        assert os.fstat(fd).st_size == 3 * MiB
        os.pwrite(fd, b"Q", 2 * MiB)
    finally:
        os.close(fd)
    assert read_file(p) == data[:10] + bytes(2 * MiB - 10) + b"Q" + bytes(MiB - 1)
    os.truncate(p, 0)
    assert read_file(p) == b"" and os.stat(p).st_size == 0
    # ENOENT / EISDIR / EINVAL
    expect_errno(errno.ENOENT, os.truncate, mnt.path("nope"), 0)
    os.mkdir(mnt.path("d"))
    expect_errno(errno.EISDIR, os.truncate, mnt.path("d"), 0)
    expect_errno(errno.EINVAL, os.truncate, p, -1)
    assert_server_matches(mnt)


def test_mmap(mnt):
    p = mnt.path("mm")
    write_file(p, bytes(256 * 1024))
    with open(p, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        mm[100:105] = b"hello"
        mm[200000:200003] = b"abc"
        mm.flush()
        mm.close()
    data = read_file(p)
    assert data[100:105] == b"hello" and data[200000:200003] == b"abc" and len(data) == 256 * 1024
    assert_server_matches(mnt)


# --------------------------------------------------------------------------
# rename

def test_rename_files_and_dirs(mnt):
    a, b = mnt.path("a"), mnt.path("b")
    write_file(a, b"AAA")
    write_file(b, b"BBB")
    ida = xid(a)
    keep = open(b, "rb")                         # an fd on the file that is replaced
    try:
        os.rename(a, b)
        assert not os.path.exists(a)
        assert read_file(b) == b"AAA" and xid(b) == ida
        assert keep.read() == b"BBB"             # the replaced file lives on while open
    finally:
        keep.close()
    # to itself: nothing happens
    os.rename(b, b)
    assert read_file(b) == b"AAA"
    # move across directories
    os.makedirs(mnt.path("d1/sub"))
    write_file(mnt.path("d1/sub/x"), b"x")
    os.rename(b, mnt.path("d1/sub/b2"))
    assert read_file(mnt.path("d1/sub/b2")) == b"AAA"
    # dir over an empty dir
    os.mkdir(mnt.path("empty"))
    os.rename(mnt.path("d1"), mnt.path("empty"))
    assert not os.path.exists(mnt.path("d1"))
    assert sorted(os.listdir(mnt.path("empty/sub"))) == ["b2", "x"]
    # dir over a non-empty dir
    os.makedirs(mnt.path("full/inner"))
    os.mkdir(mnt.path("src"))
    expect_errno(errno.ENOTEMPTY, os.rename, mnt.path("src"), mnt.path("full"))
    # file over dir, dir over file
    write_file(mnt.path("file"), b"f")
    expect_errno(errno.EISDIR, os.rename, mnt.path("file"), mnt.path("src"))
    expect_errno(errno.ENOTDIR, os.rename, mnt.path("src"), mnt.path("file"))
    # a dir into its own subtree
    expect_errno(errno.EINVAL, os.rename, mnt.path("full"), mnt.path("full/inner/x"))
    # missing source, missing target dir
    expect_errno(errno.ENOENT, os.rename, mnt.path("nope"), mnt.path("nope2"))
    expect_errno(errno.ENOENT, os.rename, mnt.path("file"), mnt.path("nodir/file"))
    # all still in place
    assert read_file(mnt.path("file")) == b"f"
    assert os.path.isdir(mnt.path("src")) and os.path.isdir(mnt.path("full/inner"))
    assert ls(mnt) == ["empty", "file", "full", "src"]
    assert_server_matches(mnt)


def test_renameat2_noreplace_exchange(mnt):
    a, b, c = mnt.path("a"), mnt.path("b"), mnt.path("c")
    write_file(a, b"AAA")
    write_file(b, b"BBBB")
    ida, idb = xid(a), xid(b)
    expect_errno(errno.EEXIST, renameat2, a, b, RENAME_NOREPLACE)
    assert read_file(a) == b"AAA" and read_file(b) == b"BBBB"
    renameat2(a, c, RENAME_NOREPLACE)
    assert not os.path.exists(a) and read_file(c) == b"AAA"
    # exchange two files: names swap, nodes (ids) go with their bytes
    renameat2(b, c, RENAME_EXCHANGE)
    assert read_file(b) == b"AAA" and read_file(c) == b"BBBB"
    assert xid(b) == ida and xid(c) == idb
    # exchange a file and a directory, across directories
    os.makedirs(mnt.path("d/sub"))
    write_file(mnt.path("d/sub/inner"), b"in")
    renameat2(b, mnt.path("d/sub"), RENAME_EXCHANGE)
    assert os.path.isdir(b) and read_file(mnt.path("b/inner")) == b"in"
    assert read_file(mnt.path("d/sub")) == b"AAA"
    # exchange with a missing name
    expect_errno(errno.ENOENT, renameat2, c, mnt.path("missing"), RENAME_EXCHANGE)
    assert ls(mnt) == ["b", "c", "d"]
    assert_server_matches(mnt)
    srv = mnt.account.lookup("d/sub")
    assert srv["id"] == ida and srv["type"] == "file"


# --------------------------------------------------------------------------
# unlink, rmdir, mkdir

def test_unlink_while_open(mnt):
    p = mnt.path("f")
    write_file(p, b"0123456789")
    fd = os.open(p, os.O_RDWR)
    try:
        os.unlink(p)
        assert not os.path.exists(p)
        assert "f" not in ls(mnt)
        expect_errno(errno.ENOENT, os.stat, p)
        assert os.pread(fd, 100, 0) == b"0123456789"
        os.pwrite(fd, b"abc", 10)
        assert os.pread(fd, 100, 0) == b"0123456789abc"
        assert os.fstat(fd).st_size == 13
        # a new file of the same name is another file
        write_file(p, b"new")
        assert os.pread(fd, 100, 0) == b"0123456789abc"
        assert read_file(p) == b"new"
    finally:
        os.close(fd)
    assert read_file(p) == b"new"
    # a file unlinked while open for reading, then closed: gone
    write_file(mnt.path("g"), os.urandom(100000))
    with open(mnt.path("g"), "rb") as f:
        os.unlink(mnt.path("g"))
        assert len(f.read()) == 100000
    assert ls(mnt) == ["f"]
    assert_server_matches(mnt)


def test_rmdir_unlink_mkdir_errors(mnt):
    os.makedirs(mnt.path("d/e"))
    write_file(mnt.path("file"), b"x")
    expect_errno(errno.ENOTEMPTY, os.rmdir, mnt.path("d"))
    expect_errno(errno.ENOTDIR, os.rmdir, mnt.path("file"))
    expect_errno(errno.EISDIR, os.unlink, mnt.path("d"))
    expect_errno(errno.EEXIST, os.mkdir, mnt.path("d"))
    expect_errno(errno.EEXIST, os.mkdir, mnt.path("file"))
    expect_errno(errno.ENOTDIR, os.mkdir, mnt.path("file/sub"))
    expect_errno(errno.ENOTDIR, os.stat, mnt.path("file/sub"))
    expect_errno(errno.ENOTDIR, os.listdir, mnt.path("file"))
    expect_errno(errno.EISDIR, os.open, mnt.path("d"), os.O_WRONLY)
    os.rmdir(mnt.path("d/e"))
    os.rmdir(mnt.path("d"))
    os.unlink(mnt.path("file"))
    assert ls(mnt) == []
    # a directory that is emptied by unlink can go
    os.makedirs(mnt.path("x/y"))
    for i in range(5):
        write_file(mnt.path("x/y/%d" % i), b"%d" % i)
    for i in range(5):
        os.unlink(mnt.path("x/y/%d" % i))
    os.rmdir(mnt.path("x/y"))
    assert os.listdir(mnt.path("x")) == []
    assert_server_matches(mnt)


def test_enoent(mnt):
    os.mkdir(mnt.path("d"))
    missing = mnt.path("d/missing")
    expect_errno(errno.ENOENT, os.stat, missing)
    expect_errno(errno.ENOENT, os.lstat, missing)
    expect_errno(errno.ENOENT, os.open, missing, os.O_RDONLY)
    expect_errno(errno.ENOENT, os.unlink, missing)
    expect_errno(errno.ENOENT, os.rmdir, missing)
    expect_errno(errno.ENOENT, os.readlink, missing)
    expect_errno(errno.ENOENT, os.chmod, missing, 0o600)
    expect_errno(errno.ENOENT, os.chown, missing, 1, 1)
    expect_errno(errno.ENOENT, os.utime, missing, None)
    expect_errno(errno.ENOENT, os.listdir, missing)
    expect_errno(errno.ENOENT, os.getxattr, missing, "user.x")
    expect_errno(errno.ENOENT, os.mkdir, mnt.path("d/no/such"))
    expect_errno(errno.ENOENT, os.open, mnt.path("no/such"), os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.ENOENT, os.symlink, "t", mnt.path("no/link"))
    # a dangling symlink: lstat works, stat and open do not
    os.symlink("nowhere", mnt.path("d/dangling"))
    assert stat.S_ISLNK(os.lstat(mnt.path("d/dangling")).st_mode)
    expect_errno(errno.ENOENT, os.stat, mnt.path("d/dangling"))
    expect_errno(errno.ENOENT, os.open, mnt.path("d/dangling"), os.O_RDONLY)
    # the name is still free after all that
    write_file(missing, b"now")
    assert read_file(missing) == b"now"
    assert_server_matches(mnt)


# --------------------------------------------------------------------------
# symlinks, modes, owners, times

def test_symlinks(mnt):
    write_file(mnt.path("target"), b"data")
    os.mkdir(mnt.path("dir"))
    os.symlink("target", mnt.path("rel"))
    os.symlink("../target", mnt.path("dir/up"))
    os.symlink("/etc/hostname-not-really", mnt.path("abs"))
    long_target = "x/" * 2000 + "y"                  # 4001 bytes
    os.symlink(long_target, mnt.path("long"))
    st = os.lstat(mnt.path("rel"))
    assert stat.S_ISLNK(st.st_mode) and st.st_size == len("target")
    assert os.readlink(mnt.path("rel")) == "target"
    assert os.readlink(mnt.path("dir/up")) == "../target"
    assert os.readlink(mnt.path("abs")) == "/etc/hostname-not-really"
    assert os.readlink(mnt.path("long")) == long_target
    assert os.lstat(mnt.path("long")).st_size == len(long_target)
    assert read_file(mnt.path("rel")) == b"data"
    assert read_file(mnt.path("dir/up")) == b"data"
    assert stat.S_ISREG(os.stat(mnt.path("rel")).st_mode)
    # writing through a symlink writes the target
    write_file(mnt.path("rel"), b"new data")
    assert read_file(mnt.path("target")) == b"new data"
    expect_errno(errno.EINVAL, os.readlink, mnt.path("target"))
    expect_errno(errno.EEXIST, os.symlink, "x", mnt.path("rel"))
    # a symlink to a directory
    os.symlink("dir", mnt.path("dirlink"))
    assert os.listdir(mnt.path("dirlink")) == ["up"]
    # renaming and removing symlinks touch the link, not the target
    os.rename(mnt.path("rel"), mnt.path("rel2"))
    assert os.readlink(mnt.path("rel2")) == "target"
    os.unlink(mnt.path("dirlink"))
    assert os.path.isdir(mnt.path("dir"))
    # lutimes on a symlink
    os.utime(mnt.path("abs"), ns=(1500000000_000000001, 1500000000_987654321),
             follow_symlinks=False)
    assert os.lstat(mnt.path("abs")).st_mtime_ns == 1500000000_987654321
    assert_server_matches(mnt)


def test_chmod_chown(mnt):
    write_file(mnt.path("f"), b"x")
    os.mkdir(mnt.path("d"))
    os.chmod(mnt.path("f"), 0o640)
    assert stat.S_IMODE(os.stat(mnt.path("f")).st_mode) == 0o640
    os.chmod(mnt.path("f"), 0o4755)
    assert stat.S_IMODE(os.stat(mnt.path("f")).st_mode) == 0o4755
    os.chmod(mnt.path("d"), 0o1777)
    assert stat.S_IMODE(os.stat(mnt.path("d")).st_mode) == 0o1777
    os.chmod(mnt.path("d"), 0o700)
    os.chown(mnt.path("f"), 1234, 5678)
    st = os.stat(mnt.path("f"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    # Linux drops set-user-ID on chown, even by root (as on ext4) ...
    assert stat.S_IMODE(st.st_mode) == 0o755, oct(st.st_mode)
    os.chmod(mnt.path("f"), 0o4755)              # ... and chmod sets it again
    assert stat.S_IMODE(os.stat(mnt.path("f")).st_mode) == 0o4755
    os.chown(mnt.path("d"), 4321, -1)                   # -1 keeps the group
    st = os.stat(mnt.path("d"))
    assert (st.st_uid, st.st_gid) == (4321, 0)
    os.symlink("f", mnt.path("l"))
    os.chown(mnt.path("l"), 77, 88, follow_symlinks=False)
    assert (os.lstat(mnt.path("l")).st_uid, os.lstat(mnt.path("l")).st_gid) == (77, 88)
    assert (os.stat(mnt.path("f")).st_uid, os.stat(mnt.path("f")).st_gid) == (1234, 5678)
    # mode of a new file and dir follows the umask and the mode asked
    old = os.umask(0o027)
    try:
        os.mkdir(mnt.path("masked"), 0o777)
        fd = os.open(mnt.path("masked/g"), os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(mnt.path("masked")).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(mnt.path("masked/g")).st_mode) == 0o640
    assert_server_matches(mnt)
    n = mnt.account.lookup("f")
    assert (n["mode"], n["uid"], n["gid"]) == (0o4755, 1234, 5678)


def test_attrs_set_right_after_close(mnt):
    """close() does not wait for the release that records a file's content,
    so a utimens or truncate right after it races that release; what was
    set last must win, here and on the server (rsync, cp -a and tar set
    mtimes right after writing)."""
    m_ns = 1500000000_000000001
    for i in range(100):
        write_file(mnt.path("u%03d" % i), b"data %d" % i)
        os.utime(mnt.path("u%03d" % i), ns=(m_ns, m_ns + i))
        write_file(mnt.path("t%03d" % i), b"longer data %d" % i)
        os.truncate(mnt.path("t%03d" % i), 4)
    time.sleep(0.5)                             # every release handled
    for i in range(100):
        assert os.stat(mnt.path("u%03d" % i)).st_mtime_ns == m_ns + i, i
        assert os.stat(mnt.path("t%03d" % i)).st_size == 4, i
    assert_server_matches(mnt)
    for i in (0, 57, 99):
        n = mnt.account.lookup("u%03d" % i)
        assert (n["mtime"], n["mtime_nsec"]) == (1500000000, 1 + i), n
        assert mnt.account.lookup("t%03d" % i)["size"] == 4


def test_utime_ns(mnt):
    p = mnt.path("f")
    write_file(p, b"x")
    os.mkdir(mnt.path("d"))
    m_ns = 1600000000_123456789
    a_ns = 1600000001_987654321
    os.utime(p, ns=(a_ns, m_ns))
    st = os.stat(p)
    assert st.st_mtime_ns == m_ns, st
    assert st.st_atime_ns == a_ns, st
    os.utime(mnt.path("d"), ns=(a_ns, m_ns + 1))
    assert os.stat(mnt.path("d")).st_mtime_ns == m_ns + 1
    # before 1970 and far in the future
    os.utime(mnt.path("d"), ns=(0, 4102444800_000000007))
    assert os.stat(mnt.path("d")).st_mtime_ns == 4102444800_000000007
    # "now"
    write_file(mnt.path("g"), b"y")
    os.utime(mnt.path("g"), ns=(m_ns, m_ns))
    os.utime(mnt.path("g"))
    assert abs(os.stat(mnt.path("g")).st_mtime - time.time()) < 30
    assert_server_matches(mnt)
    n = mnt.account.lookup("f")
    assert (n["mtime"], n["mtime_nsec"]) == (1600000000, 123456789), n
    n = mnt.account.lookup("d")
    assert (n["mtime"], n["mtime_nsec"]) == (4102444800, 7), n


def test_statvfs(mnt):
    sv = os.statvfs(mnt.mnt)
    assert sv.f_namemax == 255
    assert sv.f_bsize > 0 and sv.f_frsize > 0
    assert sv.f_blocks > 0 and sv.f_blocks >= sv.f_bfree >= sv.f_bavail
    assert sv.f_files >= sv.f_ffree
    os.mkdir(mnt.path("d"))
    assert os.statvfs(mnt.path("d")).f_namemax == 255


def test_name_length(mnt):
    n255 = "n" * 255
    write_file(mnt.path(n255), b"ok")
    assert read_file(mnt.path(n255)) == b"ok"
    assert n255 in ls(mnt)
    uni = "\u00e9" * 127 + "a"                 # 255 bytes of UTF-8
    assert len(uni.encode()) == 255
    os.mkdir(mnt.path(uni))
    assert os.path.isdir(mnt.path(uni))
    n256 = "n" * 256
    expect_errno(errno.ENAMETOOLONG, os.open, mnt.path(n256), os.O_CREAT | os.O_WRONLY, 0o644)
    expect_errno(errno.ENAMETOOLONG, os.mkdir, mnt.path(n256))
    expect_errno(errno.ENAMETOOLONG, os.symlink, "t", mnt.path(n256))
    expect_errno(errno.ENAMETOOLONG, os.rename, mnt.path(n255), mnt.path(n256))
    expect_errno(errno.ENAMETOOLONG, os.stat, mnt.path(n256))
    uni256 = "\u00e9" * 128
    expect_errno(errno.ENAMETOOLONG, os.mkdir, mnt.path(uni256))
    assert ls(mnt) == sorted([n255, uni])
    # other names dbxd must carry: spaces, unicode, leading dots, odd bytes
    odd = ["with space", " lead", "trail ", ".hidden", "..dots", "\u65e5\u672c\u8a9e",
           "emoji-\U0001F600", "a\tb", "new\nline", "back\\slash", "q?*:\"<>|"]
    for name in odd:
        write_file(mnt.path(name), name.encode())
    for name in odd:
        assert read_file(mnt.path(name)) == name.encode()
    assert_server_matches(mnt)


def test_hard_link_eperm(mnt):
    write_file(mnt.path("f"), b"x")
    expect_errno(errno.EPERM, os.link, mnt.path("f"), mnt.path("g"))
    assert not os.path.exists(mnt.path("g"))
    assert os.stat(mnt.path("f")).st_nlink == 1
    os.mkdir(mnt.path("d"))
    expect_errno(errno.EPERM, os.link, mnt.path("f"), mnt.path("d/g"))
    assert os.listdir(mnt.path("d")) == []


# --------------------------------------------------------------------------
# xattrs

def test_xattrs(mnt):
    p = mnt.path("f")
    write_file(p, b"x")
    os.mkdir(mnt.path("d"))
    assert os.listxattr(p) == []
    os.setxattr(p, "user.a", b"1")
    os.setxattr(p, "user.bin", bytes(range(256)) * 16)     # 4 KiB, all byte values
    os.setxattr(p, "user.empty", b"")
    os.setxattr(mnt.path("d"), "user.dirattr", b"on a dir")
    assert os.getxattr(p, "user.a") == b"1"
    assert os.getxattr(p, "user.bin") == bytes(range(256)) * 16
    assert os.getxattr(p, "user.empty") == b""
    assert os.getxattr(mnt.path("d"), "user.dirattr") == b"on a dir"
    assert sorted(os.listxattr(p)) == ["user.a", "user.bin", "user.empty"]
    # replace, create-only, replace-only
    os.setxattr(p, "user.a", b"22")
    assert os.getxattr(p, "user.a") == b"22"
    expect_errno(errno.EEXIST, os.setxattr, p, "user.a", b"3", os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, p, "user.nope", b"3", os.XATTR_REPLACE)
    os.setxattr(p, "user.c", b"c", os.XATTR_CREATE)
    os.setxattr(p, "user.c", b"cc", os.XATTR_REPLACE)
    assert os.getxattr(p, "user.c") == b"cc"
    # remove
    os.removexattr(p, "user.a")
    expect_errno(errno.ENODATA, os.getxattr, p, "user.a")
    expect_errno(errno.ENODATA, os.removexattr, p, "user.a")
    assert sorted(os.listxattr(p)) == ["user.bin", "user.c", "user.empty"]
    # other namespaces
    expect_errno(errno.EOPNOTSUPP, os.setxattr, p, "trusted.x", b"1")
    expect_errno(errno.EOPNOTSUPP, os.setxattr, p, "security.x", b"1")
    # xattrs follow a rename and survive a write
    os.rename(p, mnt.path("d/g"))
    write_file(mnt.path("d/g"), b"rewritten")
    assert os.getxattr(mnt.path("d/g"), "user.c") == b"cc"
    assert_server_matches(mnt)


def test_virtual_xattrs(mnt):
    os.makedirs(mnt.path("d"))
    write_file(mnt.path("d/f"), b"x")
    st = json.loads(os.getxattr(mnt.mnt, STATUS_XATTR))
    for k in ("online", "queued", "dirty", "uploading", "cursor", "last_sync", "conflicts"):
        assert k in st, st
    assert st["online"] is True
    for k in ("queued", "dirty", "uploading", "cursor", "last_sync", "conflicts"):
        assert isinstance(st[k], int) and not isinstance(st[k], bool) and st[k] >= 0, (k, st)
    for p in (mnt.mnt, mnt.path("d"), mnt.path("d/f")):
        assert re.fullmatch(r"[0-9a-f]{16}", xid(p)), xid(p)
        assert ID_XATTR not in os.listxattr(p) and STATUS_XATTR not in os.listxattr(p)
    assert xid(mnt.mnt) == mnt.account.api.root
    mnt.wait_idle()
    assert xid(mnt.path("d")) == mnt.account.lookup("d")["id"]
    assert xid(mnt.path("d/f")) == mnt.account.lookup("d/f")["id"]
    # an id is the node's, so it follows a rename
    fid = xid(mnt.path("d/f"))
    os.rename(mnt.path("d/f"), mnt.path("f2"))
    assert xid(mnt.path("f2")) == fid
    # read-only
    with pytest.raises(OSError):
        os.setxattr(mnt.path("f2"), ID_XATTR, b"0123456789abcdef")
    with pytest.raises(OSError):
        os.removexattr(mnt.path("f2"), ID_XATTR)
    with pytest.raises(OSError):
        os.setxattr(mnt.mnt, STATUS_XATTR, b"{}")
    assert xid(mnt.path("f2")) == fid
    st = mnt.wait_idle()
    assert st["cursor"] > 0 and st["last_sync"] > time.time() - 600


# --------------------------------------------------------------------------
# a big directory

@pytest.mark.watchdog(240)
def test_directory_of_10000_entries(mnt, make_mount):
    n = 10000
    os.mkdir(mnt.path("big"))
    t0 = time.time()
    for i in range(n):
        fd = os.open(mnt.path("big", "entry-%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644)
        if i % 1000 == 0:
            os.write(fd, b"%d" % i)
        os.close(fd)
    t1 = time.time()
    names = os.listdir(mnt.path("big"))
    assert len(names) == n and len(set(names)) == n
    assert set(names) == {"entry-%05d" % i for i in range(n)}
    for i in random.sample(range(n), 50) + [0, 1000, n - 1]:
        st = os.stat(mnt.path("big", "entry-%05d" % i))
        assert st.st_size == (len(b"%d" % i) if i % 1000 == 0 else 0)
    assert read_file(mnt.path("big", "entry-03000")) == b"3000"
    with os.scandir(mnt.path("big")) as it:
        assert sum(1 for e in it if e.is_file(follow_symlinks=False)) == n
    st = mnt.wait_idle(T(180))
    t2 = time.time()
    log("10000 creates %.1fs, pushed %.1fs later" % (t1 - t0, t2 - t1))
    big = mnt.account.lookup("big")
    srv = mnt.account.children(big["id"])
    assert len(srv) == n
    assert sorted(e["name"] for e in srv) == sorted(names)
    # another device lists it from the server
    b = make_mount(mnt.server, mnt.account, "b")
    names_b = bounded(os.listdir, b.path("big"), timeout=T(30))
    assert sorted(names_b) == sorted(names)
    assert read_file(b.path("big", "entry-07000")) == b"7000"
    # and a remove of half of them
    for i in range(0, n, 2):
        os.unlink(mnt.path("big", "entry-%05d" % i))
    assert len(os.listdir(mnt.path("big"))) == n // 2
    mnt.wait_idle(T(180))
    assert len(mnt.account.children(big["id"])) == n // 2


# --------------------------------------------------------------------------
# persistence: everything above, across an unmount, on the server, and on
# a new device

def build_tree(root):
    """Makes a tree that uses most of what the mount supports; returns the
    bytes each file must hold."""
    j = lambda *p: os.path.join(root, *p)  # noqa: E731
    content = {}
    os.makedirs(j("a/b/c"))
    os.makedirs(j("gone/sub"))
    for name, data in [("empty", b""), ("small.txt", b"small\n"),
                       ("a/rand.bin", os.urandom(1 * MiB + 3)),
                       ("a/b/c/deep", b"deep"), ("gone/sub/x", b"x"),
                       ("n" * 255, b"long name"), ("caf\u00e9 \u65e5\u672c", b"unicode")]:
        write_file(j(name), data)
        content[name] = data
    # sparse
    with open(j("sparse"), "wb") as f:
        f.seek(2 * MiB)
        f.write(b"S")
    content["sparse"] = bytes(2 * MiB) + b"S"
    # append, overwrite, truncate
    with open(j("small.txt"), "ab") as f:
        f.write(b"more\n")
    content["small.txt"] += b"more\n"
    with open(j("a/rand.bin"), "r+b") as f:
        f.seek(1000)
        f.write(b"OVERWRITE")
    d = bytearray(content["a/rand.bin"])
    d[1000:1009] = b"OVERWRITE"
    os.truncate(j("a/rand.bin"), 600000)
    content["a/rand.bin"] = bytes(d[:600000])
    # renames
    write_file(j("old-name"), b"renamed")
    os.rename(j("old-name"), j("a/b/new-name"))
    content["a/b/new-name"] = b"renamed"
    write_file(j("victim"), b"victim")
    write_file(j("winner"), b"winner")
    os.rename(j("winner"), j("victim"))
    content["victim"] = b"winner"
    os.rename(j("a/b/c"), j("c-moved"))
    content["c-moved/deep"] = content.pop("a/b/c/deep")
    # deletes
    os.unlink(j("gone/sub/x"))
    del content["gone/sub/x"]
    os.rmdir(j("gone/sub"))
    os.rmdir(j("gone"))
    # symlinks
    os.symlink("small.txt", j("link"))
    os.symlink("../nowhere", j("a/dangling"))
    # modes, owners, times, xattrs
    os.chmod(j("small.txt"), 0o600)
    os.chmod(j("a/b"), 0o750)
    os.chown(j("victim"), 1001, 1002)
    os.utime(j("empty"), ns=(1234567890_111111111, 1234567890_222222222))
    os.setxattr(j("small.txt"), "user.color", b"blue")
    os.setxattr(j("a"), "user.dir", b"yes")
    return content


def check_contents(root, content):
    for rel, data in content.items():
        got = read_file(os.path.join(root, rel))
        assert got == data, "%s: %d bytes, expected %d (sha %s vs %s)" % (
            rel, len(got), len(data), sha(got), sha(data))


@pytest.mark.watchdog(180)
def test_persistence_remount_and_server(mnt, make_mount):
    content = build_tree(mnt.mnt)
    check_contents(mnt.mnt, content)
    assert_server_matches(mnt)
    before = snapshot(mnt.mnt, dir_mtime=True, xattrs=True)
    mnt.unmount()
    assert not os.listdir(mnt.mnt), "the mountpoint shows files after the unmount"
    # the same device again
    mnt.mount()
    after = bounded(snapshot, mnt.mnt, dir_mtime=True, xattrs=True, timeout=T(60))
    assert_same_tree(before, after, "before the unmount", "after the remount")
    check_contents(mnt.mnt, content)
    # a new device of the same account sees the same tree (no xattrs, no
    # dir mtimes: those are local)
    b = make_mount(mnt.server, mnt.account, "fresh")
    fresh = bounded(snapshot, b.mnt, timeout=T(60))
    assert_same_tree(snapshot(mnt.mnt), fresh, "first device", "new device")
    check_contents(b.mnt, content)
    # and the remounted one still works
    write_file(mnt.path("after-remount"), b"ok")
    assert_server_matches(mnt)
