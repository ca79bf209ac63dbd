"""The mount command line: the daemon form, the SOURCE MOUNTPOINT form that
mount.fuse3 runs, the token file, unmount, and the one-line errors."""
import os
import re
import socket
import stat
import subprocess

import pytest

from conftest import (T, assert_server_matches, is_mounted, mount_fstype, pid_alive,
                      read_file, wait_for, write_file)


def one_line_error(r, *words):
    """r failed with exactly one non-empty line on stderr, naming one of
    words (case-insensitive) when given."""
    assert r.returncode != 0, "dbxfs succeeded: stdout %r stderr %r" % (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, "expected one line on stderr, got %d:\n%s" % (len(lines), r.stderr)
    if words:
        assert any(w.lower() in lines[0].lower() for w in words), \
            "the message %r names none of %r" % (lines[0], words)
    return lines[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_daemon_mount_and_unmount(server, account, make_mount):
    m = make_mount(server, account, "d", mount=False)
    m.mount_daemon()
    pid = m.daemon_pid
    assert pid != os.getpid()
    assert mount_fstype(m.mnt).startswith("fuse"), mount_fstype(m.mnt)
    write_file(m.path("f"), b"daemon")
    assert read_file(m.path("f")) == b"daemon"
    assert_server_matches(m)
    # the token was saved, 0600
    st = os.stat(m.token_file)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    tok = read_file(m.token_file).decode().splitlines()[0]
    assert re.fullmatch(r"[0-9a-f]{64}", tok), tok
    # nothing written to the real home: everything went where the options said
    assert not os.path.exists(os.path.join(m.home, ".config", "dbxfs", "token"))
    m.unmount()
    assert not is_mounted(m.mnt)
    assert not pid_alive(pid), "dbxfs still running after fusermount3 -u"


def test_source_mountpoint_form(server, account, make_mount):
    """What `mount -t fuse.dbxfs URL MNT -o ...` makes mount.fuse3 run."""
    m = make_mount(server, account, "src", mount=False)
    opts = ",".join(["user=" + account.user, "password_file=" + m.password_file,
                     "cache_dir=" + m.cache_dir, "token_file=" + m.token_file,
                     "config=" + m.config])
    m.mount_daemon([server.url, m.mnt, "-o", opts])
    write_file(m.path("via-source"), b"source form")
    assert_server_matches(m)
    m.unmount()
    # USER@URL with the fstab words mount.fuse3 passes along
    m2 = make_mount(server, account, "src2", mount=False)
    opts = ",".join(["password_file=" + m2.password_file, "cache_dir=" + m2.cache_dir,
                     "token_file=" + m2.token_file, "config=" + m2.config, "_netdev",
                     "nofail"])
    m2.mount_daemon(["%s@%s" % (account.user, server.url), m2.mnt, "-o", opts])
    assert read_file(m2.path("via-source")) == b"source form"
    m2.unmount()


def test_fsname_and_root_owner(server, account, make_mount):
    """findmnt and df name the account as an fstab line does; the root is
    the uid=/gid= given (else the mounting user's), whatever dbxd holds."""
    m = make_mount(server, account, "own", mount=False)
    m.mount(extra=["uid=1234", "gid=4321"])
    src = subprocess.run(["findmnt", "-n", "-o", "SOURCE", m.mnt], capture_output=True,
                         text=True).stdout.strip()
    assert src == "%s@%s" % (account.user, server.url)
    st = os.stat(m.mnt)
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    write_file(m.path("mine"), b"x")
    assert os.stat(m.path("mine")).st_uid == 0      # a node keeps its creator's
    m.unmount()
    m.mount()
    assert (os.stat(m.mnt).st_uid, os.stat(m.mnt).st_gid) == (0, 0)
    m.unmount()


def test_token_file_reused(server, account, make_mount):
    m = make_mount(server, account, "t")          # logs in, saves the token
    write_file(m.path("x"), b"x")
    m.wait_idle()
    m.unmount()
    assert os.path.exists(m.token_file)
    # without password_file: the saved token is enough
    os.unlink(m.password_file)
    opts = ",".join(["server=" + server.url, "user=" + account.user, "cache_dir=" + m.cache_dir,
                     "token_file=" + m.token_file, "config=" + m.config])
    m.mount_daemon(["-o", opts, m.mnt])
    assert read_file(m.path("x")) == b"x"
    m.unmount()


def test_umount_and_cache_size(server, account, make_mount):
    m = make_mount(server, account, "u", mount=False)
    m.mount_daemon(extra=["cache_size=1G"])
    write_file(m.path("f"), b"1")
    m.wait_idle()
    pid = m.daemon_pid
    r = subprocess.run(["umount", m.mnt], capture_output=True, text=True, timeout=T(30))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: not pid_alive(pid), T(20), "dbxfs to exit after umount")
    m.daemon_pid = None


# --------------------------------------------------------------------------
# errors: one line on stderr, a non-zero exit, nothing mounted

def test_error_unreachable_server_empty_cache(account, make_mount, server):
    m = make_mount(server, account, "e1", mount=False)
    port = free_port()
    opts = m.opts().replace("server=" + server.url, "server=http://127.0.0.1:%d" % port)
    r = m.cli(["-o", opts, m.mnt])
    one_line_error(r, str(port), "127.0.0.1", "connect", "reach", "server", "offline")
    assert not is_mounted(m.mnt)


def test_error_bad_password(server, account, make_mount):
    m = make_mount(server, account, "e2", mount=False)
    with open(m.password_file, "w") as f:
        f.write("not-the-password\n")
    r = m.cli(["-o", m.opts(), m.mnt])
    one_line_error(r, "password", "login", "unauthorized", "auth", "credentials")
    assert not is_mounted(m.mnt)
    assert not os.path.exists(m.token_file) or not read_file(m.token_file).strip(), \
        "a token was saved after a failed login"


def test_error_password_file_mode(server, account, make_mount):
    m = make_mount(server, account, "e3", mount=False)
    os.chmod(m.password_file, 0o644)
    r = m.cli(["-o", m.opts(), m.mnt])
    one_line_error(r, m.password_file, "password", "permission", "mode", "0600")
    assert not is_mounted(m.mnt)


def test_error_missing_mountpoint(server, account, make_mount):
    m = make_mount(server, account, "e4", mount=False)
    missing = os.path.join(m.dir, "no-such-dir")
    r = m.cli(["-o", m.opts(), missing])
    one_line_error(r, missing, "mountpoint", "no such")
    assert not os.path.exists(missing)
    r = m.cli(["-o", m.opts()])
    one_line_error(r, "mountpoint", "usage", "missing")


def test_error_already_mounted(server, account, make_mount):
    a = make_mount(server, account, "e5")
    other_cache = os.path.join(a.dir, "other-cache")
    opts = a.opts().replace("cache_dir=" + a.cache_dir, "cache_dir=" + other_cache)
    r = a.cli(["-o", opts, a.mnt])
    one_line_error(r, a.mnt, "mounted", "busy", "mountpoint")
    # the first mount is untouched
    write_file(a.path("still"), b"works")
    assert read_file(a.path("still")) == b"works"
    assert a.alive()


def test_error_same_cache_dir_twice(server, account, make_mount):
    """One device, one process: a second dbxfs on a cache_dir in use is
    refused (two would replay one journal twice)."""
    a = make_mount(server, account, "e7")
    b = make_mount(server, account, "e7b", mount=False)
    opts = b.opts().replace("cache_dir=" + b.cache_dir, "cache_dir=" + a.cache_dir)
    r = b.cli(["-o", opts, b.mnt])
    one_line_error(r)
    assert not is_mounted(b.mnt)
    assert a.alive()


@pytest.mark.parametrize("bad", ["bogus_option=1", "cache_size=lots", "log_level=loud"])
def test_error_bad_option(server, account, make_mount, bad):
    m = make_mount(server, account, "e6", mount=False)
    r = m.cli(["-o", m.opts([bad]), m.mnt])
    one_line_error(r, bad.split("=")[0], bad.split("=")[1])
    assert not is_mounted(m.mnt)
