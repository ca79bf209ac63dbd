"""The Debian package, as a user meets it: built with CPack from the build
tree, installed with apt, dbxd started from the installed unit and config,
a user's mount through `mount -t fuse.dbxfs` and through an fstab line
(`mount -T`), a user unit mount as a non-root user, then removed and purged.

Needs root and a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr
($DBX_BUILD_DIR; tests/run.sh makes one). The tests run in file order and
share the installed package. systemd is not PID 1 on the test machines, so
the units' commands run through unitrun.py, which does what systemd does
for them (user, directories, readiness); `systemd-analyze verify` checks
the rest of each unit.
"""
import glob
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import time

import pytest

from unitrun import start_unit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("DBX_BUILD_DIR", os.path.join(REPO, "build"))
UNITS = "/usr/lib/systemd/system"
USER_UNITS = "/usr/lib/systemd/user"
EXAMPLES = "/usr/share/doc/dbxfs/examples"
STATUS_XATTR = "user.dbxfs.status"
PASSWORD = "correct horse battery staple"
STATE = "/var/lib/dbxd"
MARK = STATE + "/.made-by-dbxfs-tests"   # this run may remove STATE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: needs root")


def run(*argv, check=True, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(map(str, argv)), r.returncode,
                                                     r.stdout, r.stderr))
    return r


def installed():
    r = run("dpkg-query", "-W", "-f=${Status}", "dbxfs", check=False)
    return r.returncode == 0 and "install ok installed" in r.stdout


def purge():
    run("dpkg", "--purge", "dbxfs", check=False)


_capture = []


@pytest.fixture(autouse=True, scope="module")
def _capture_manager(pytestconfig):
    _capture.append(pytestconfig.pluginmanager.getplugin("capturemanager"))


def report(line):
    """A figure for the note, printed past pytest's capture."""
    with _capture[-1].global_and_fixture_disabled():
        print("\n" + line)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def is_mounted(path):
    return run("findmnt", "-n", path, check=False).returncode == 0


def synced(mnt, pw=None):
    """The mount's status says all is on dbxd. pw: the mount's owner, the
    only one who may look without allow_other (not even root may)."""
    if pw:
        text = as_user(pw, "/usr/bin/python3", "-c", "import os, sys; sys.stdout.write("
                       "os.getxattr(%r, %r).decode())" % (mnt, STATUS_XATTR)).stdout
    else:
        text = os.getxattr(mnt, STATUS_XATTR)
    s = json.loads(text)
    return s["online"] and s["queued"] == 0 and s["dirty"] == 0 and s["uploading"] == 0


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    cache = os.path.join(BUILD, "CMakeCache.txt")
    with open(cache) as f:
        prefix = re.search(r"^CMAKE_INSTALL_PREFIX:PATH=(.*)$", f.read(), re.M).group(1)
    assert prefix == "/usr", "%s is configured for %s; the package wants " \
        "-DCMAKE_INSTALL_PREFIX=/usr" % (BUILD, prefix)
    if (installed() or os.path.exists(STATE)) and not os.path.exists(MARK):
        pytest.skip("dbxfs is installed here for real (or %s holds data): not "
                    "replacing it with a test package" % STATE)
    out = tmp_path_factory.mktemp("deb")
    t0 = time.time()
    run("cpack", "-G", "DEB", "-B", out, cwd=BUILD)
    t1 = time.time()
    debs = glob.glob(str(out / "dbxfs_*.deb"))
    assert len(debs) == 1, debs
    purge()
    shutil.rmtree(STATE, ignore_errors=True)     # a previous run's, per MARK
    os.makedirs(STATE)
    open(MARK, "w").close()
    t2 = time.time()
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", debs[0],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    report("[install] %s: %d KiB, cpack %.1fs, apt-get install %.1fs" % (
        os.path.basename(debs[0]), os.path.getsize(debs[0]) // 1024, t1 - t0, time.time() - t2))
    yield debs[0]
    purge()


@pytest.fixture(scope="module")
def dbxd_service(deb, tmp_path_factory):
    """dbxd from the installed unit, on a free port set in /etc/dbxd/dbxd.conf
    as an administrator would; one account made with `dbxd useradd`."""
    port = free_port()
    with open("/etc/dbxd/dbxd.conf", "a") as f:
        f.write("port = %d\n" % port)
    t0 = time.time()
    svc = start_unit(os.path.join(UNITS, "dbxd.service"))
    report("[install] dbxd.service: READY=1 %.0f ms after start" % (1000 * (time.time() - t0)))
    run("dbxd", "useradd", "-d", "/var/lib/dbxd", "alice", input=PASSWORD + "\n")
    url = "http://127.0.0.1:%d" % port
    yield svc, url
    assert svc.stop() == 0, svc.log()[-3000:]


def test_package_contents(deb):
    files = set(run("dpkg", "-L", "dbxfs").stdout.split())
    for f in ("/usr/bin/dbxfs", "/usr/bin/dbxctl", "/usr/sbin/dbxd", "/etc/dbxd/dbxd.conf",
              UNITS + "/dbxd.service", USER_UNITS + "/dbxfs@.service",
              EXAMPLES + "/mnt-cloud.mount", EXAMPLES + "/mnt-cloud.automount",
              EXAMPLES + "/fstab.example"):
        assert f in files, f
    for page in ("man1/dbxfs.1", "man1/dbxctl.1", "man8/dbxd.8"):
        assert any(f.startswith("/usr/share/man/" + page) for f in files), page
    assert run("dpkg-query", "-W", "-f=${Conffiles}", "dbxfs").stdout.split()[0] == \
        "/etc/dbxd/dbxd.conf"
    pw = pwd.getpwnam("dbxd")
    assert pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin"), pw
    assert "fuse3" in run("dpkg-deb", "-f", deb, "Depends").stdout


def test_units_verify(deb, tmp_path):
    """Every unit, installed and example, passes systemd-analyze verify
    without a single warning (unknown keys are only warnings there)."""
    units = [os.path.join(UNITS, "dbxd.service")]
    # a template is verified through an instance of it
    inst = tmp_path / "dbxfs@home-alice-Cloud.service"
    shutil.copy(os.path.join(USER_UNITS, "dbxfs@.service"), inst)
    for name in ("mnt-cloud.mount", "mnt-cloud.automount"):
        shutil.copy(os.path.join(EXAMPLES, name), tmp_path / name)
        units.append(str(tmp_path / name))
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    for unit, extra in [(u, []) for u in units] + [(str(inst), ["--user"])]:
        r = run("systemd-analyze", "verify", *extra, unit, check=False,
                env=dict(os.environ, XDG_RUNTIME_DIR=str(xdg)))
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), \
            "%s:\n%s%s" % (unit, r.stdout, r.stderr)


def test_service_runs_as_its_user(dbxd_service):
    svc, url = dbxd_service
    assert "READY=1" in svc.status and url in svc.status, svc.status
    with open("/proc/%d/status" % svc.proc.pid) as f:
        uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
    assert uid == pwd.getpwnam("dbxd").pw_uid
    st = os.stat("/var/lib/dbxd")
    assert st.st_uid == uid and st.st_mode & 0o777 == 0o700
    # `dbxd useradd` run by root left every file the service's own
    for root, dirs, files in os.walk("/var/lib/dbxd"):
        for name in set(dirs + files) - {os.path.basename(MARK)}:
            assert os.lstat(os.path.join(root, name)).st_uid == uid, name


def test_mount_t_and_fstab(dbxd_service, tmp_path):
    """mount -t fuse.dbxfs writes a file; a second mount, from a temporary
    fstab with an empty cache, reads it back from dbxd; umount ends both."""
    svc, url = dbxd_service
    (tmp_path / "password").write_text(PASSWORD + "\n")
    os.chmod(tmp_path / "password", 0o600)
    source = "alice@" + url
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    opts = "password_file=%s,token_file=%s,cache_dir=%s" % (
        tmp_path / "password", tmp_path / "token", tmp_path / "cache1")
    run("mount", "-t", "fuse.dbxfs", source, mnt, "-o", opts)
    try:
        line = run("findmnt", "-n", "-o", "SOURCE,FSTYPE", mnt).stdout.split()
        assert line == [source, "fuse.dbxfs"], line
        data = os.urandom(3 * 1024 * 1024 + 11)
        (mnt / "hello.bin").write_bytes(data)
        wait_for(lambda: synced(str(mnt)), 60, "the upload")
        assert os.stat(tmp_path / "token").st_mode & 0o777 == 0o600
    finally:
        run("umount", mnt)
    assert not is_mounted(str(mnt))

    fstab = tmp_path / "fstab"
    fstab.write_text("# a test fstab\n%s  %s  fuse.dbxfs  _netdev,nofail,noauto,"
                     "x-systemd.automount,%s  0  0\n" % (
                         source, mnt, opts.replace("cache1", "cache2")))
    run("mount", "-T", fstab, mnt)
    try:
        assert (mnt / "hello.bin").read_bytes() == data
    finally:
        run("umount", mnt)
    assert not is_mounted(str(mnt))
    log = svc.log()
    assert re.search(r" info GET /v1/chunks/[0-9a-f]{64} 200 \d+ms", log), log[-2000:]


def test_unknown_option_is_a_clear_error(deb, dbxd_service, tmp_path):
    svc, url = dbxd_service
    r = run("mount", "-t", "fuse.dbxfs", "alice@" + url, tmp_path, "-o", "cache_sise=1G",
            check=False)
    assert r.returncode != 0 and "unknown option 'cache_sise=1G'" in r.stderr, r.stderr
    assert not is_mounted(str(tmp_path))


@pytest.fixture
def plain_user(deb):
    """A login user with a home, and /dev/fuse open to users as udev leaves
    it on a normal Debian system (it is 0600 on some test machines)."""
    name = "dbxtestuser"
    run("userdel", "-r", name, check=False)
    run("useradd", "-m", "-s", "/bin/sh", name)
    mode = os.stat("/dev/fuse").st_mode & 0o777
    os.chmod("/dev/fuse", 0o666)
    yield pwd.getpwnam(name)
    os.chmod("/dev/fuse", mode)
    run("userdel", "-r", name, check=False)


def as_user(pw, *argv, **kw):
    return run("setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
               "--init-groups", "--", *argv,
               env={"HOME": pw.pw_dir, "PATH": "/usr/bin:/bin"}, **kw)


def test_user_unit_mount(dbxd_service, plain_user):
    """dbxctl login, then dbxfs@.service for ~/Cloud as that user: ready
    once mounted, files round trip, stopping the unit unmounts."""
    svc, url = dbxd_service
    pw = plain_user
    as_user(pw, "dbxctl", "login", url, "alice", input=PASSWORD + "\n")
    for f in ("config", "token"):
        st = os.stat(os.path.join(pw.pw_dir, ".config/dbxfs", f))
        assert st.st_uid == pw.pw_uid and st.st_mode & 0o077 == 0, (f, oct(st.st_mode))
    cloud = os.path.join(pw.pw_dir, "Cloud")
    instance = run("systemd-escape", "--path", cloud).stdout.strip()
    t0 = time.time()
    unit = start_unit(os.path.join(USER_UNITS, "dbxfs@.service"), instance=instance,
                      env={"PATH": "/usr/bin:/bin"}, user=pw.pw_name)
    report("[install] dbxfs@.service: mounted (READY=1) %.0f ms after start" % (
        1000 * (time.time() - t0)))
    try:
        assert is_mounted(cloud)
        as_user(pw, "sh", "-c", "echo from the user unit > %s/note.txt" % cloud)
        # what root's mount wrote comes down through dbxd
        size = as_user(pw, "sh", "-c", "wc -c < %s/hello.bin" % cloud).stdout
        assert int(size) == 3 * 1024 * 1024 + 11
        wait_for(lambda: synced(cloud, pw), 60, "the user's upload")
    finally:
        rc = unit.stop()
    assert rc == 0, unit.log()[-3000:]
    assert not is_mounted(cloud)


def test_remove_and_purge(deb):
    run("apt-get", "remove", "-y", "-qq", "dbxfs",
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    for f in ("/usr/bin/dbxfs", "/usr/bin/dbxctl", "/usr/sbin/dbxd",
              UNITS + "/dbxd.service", USER_UNITS + "/dbxfs@.service"):
        assert not os.path.exists(f), f
    assert os.path.exists("/etc/dbxd/dbxd.conf"), "remove keeps the conffile"
    run("dpkg", "--purge", "dbxfs")
    assert not installed()
    assert not os.path.exists("/etc/dbxd/dbxd.conf")
    assert not glob.glob("/usr/share/man/man*/dbx*")
    # the users' data stays (postrm says how to remove it)
    assert os.path.isdir("/var/lib/dbxd")
