"""Real programs inside the mount: git, tar, diff, rsync, cp -a, an
editor-style save, sqlite. Each result is checked in the mount, on the
server, and (where it matters) after an unmount/remount."""
import os
import random
import sqlite3

import pytest

from conftest import (ls, T, assert_same_tree, assert_server_matches, bounded, log,
                      read_file, run, sha, snapshot, write_file)


# --------------------------------------------------------------------------
# git

def git_env(home):
    e = dict(os.environ)
    e.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test",
              "GIT_AUTHOR_EMAIL": "test@example.invalid", "GIT_COMMITTER_NAME": "Test",
              "GIT_COMMITTER_EMAIL": "test@example.invalid", "GIT_TERMINAL_PROMPT": "0",
              "LC_ALL": "C"})
    return e


@pytest.mark.watchdog(180)
def test_git(mnt, tmp_path):
    env = git_env(tmp_path)

    def git(*args, cwd=None, check=True):
        return run(["git"] + list(args), cwd=cwd or mnt.mnt, env=env, check=check)

    repo = mnt.path("repo")
    git("init", "-q", "-b", "main", "repo")
    os.makedirs(os.path.join(repo, "src/lib"))
    write_file(os.path.join(repo, "README"), b"hello\n")
    write_file(os.path.join(repo, "src/main.c"), b"int main(void) { return 0; }\n")
    write_file(os.path.join(repo, "src/lib/blob.bin"), os.urandom(300000))
    os.chmod(os.path.join(repo, "README"), 0o755)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    write_file(os.path.join(repo, "README"), b"hello\nworld\n")
    git("mv", "src/main.c", "src/prog.c", cwd=repo)
    git("commit", "-q", "-a", "-m", "second", cwd=repo)
    git("rm", "-q", "src/lib/blob.bin", cwd=repo)
    # git rm also removes the directory it emptied, as on any filesystem
    assert not os.path.exists(os.path.join(repo, "src/lib"))
    os.makedirs(os.path.join(repo, "src/lib"))
    for i in range(50):
        write_file(os.path.join(repo, "src/lib/f%02d.txt" % i), b"file %d\n" % i * (i + 1))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "third", cwd=repo)
    git("tag", "v1", cwd=repo)
    try:
        git("gc", "-q", cwd=repo)
    except AssertionError as e:
        # what the failure looked like, for whoever fixes it
        ref = os.path.join(repo, ".git/refs/heads/main")
        local = read_file(ref) if os.path.exists(ref) else None
        srv = mnt.account.lookup("repo/.git/refs/heads/main")
        remote = mnt.account.download(srv["id"]) if srv and srv["size"] else srv
        raise AssertionError("%s\n  refs/heads/main in the mount: %r\n  on the server: %r\n"
                             "  git log: %s\n  status: %r" % (
                                 e, local, remote,
                                 git("log", "--oneline", cwd=repo, check=False).stdout.strip()
                                 or "(fails)", mnt.status()))
    git("fsck", "--full", "--strict", cwd=repo)
    # a clone inside the mount (a local clone tries hard links: EPERM, then copies)
    git("clone", "-q", "repo", "clone")
    clone = mnt.path("clone")
    for where in (repo, clone):
        git("fsck", "--full", "--strict", cwd=where)
        assert git("status", "--porcelain", cwd=where).stdout == "", where
        assert git("rev-list", "--count", "HEAD", cwd=where).stdout.strip() == "3"
    assert git("rev-parse", "HEAD", cwd=repo).stdout == git("rev-parse", "HEAD", cwd=clone).stdout
    assert read_file(os.path.join(clone, "README")) == b"hello\nworld\n"
    assert os.stat(os.path.join(clone, "README")).st_mode & 0o111
    assert not os.path.exists(os.path.join(clone, "src/lib/blob.bin"))
    # a commit in the clone, pulled back into repo
    write_file(os.path.join(clone, "NEW"), b"from the clone\n")
    git("add", "NEW", cwd=clone)
    git("commit", "-q", "-m", "fourth", cwd=clone)
    git("pull", "-q", "--ff-only", clone, "main", cwd=repo)
    assert read_file(os.path.join(repo, "NEW")) == b"from the clone\n"
    assert_server_matches(mnt, timeout=T(90))
    mnt.unmount()
    mnt.mount()
    for where in (repo, clone):
        git("fsck", "--full", "--strict", cwd=where)
        assert git("status", "--porcelain", cwd=where).stdout == "", where
    assert git("rev-list", "--count", "HEAD", cwd=repo).stdout.strip() == "4"


# --------------------------------------------------------------------------
# tar, diff

def make_tree(root, n_dirs, n_files, seed):
    """A tree of small files with varied sizes, modes, owners, mtimes (ns)
    and symlinks; returns the number of files."""
    rnd = random.Random(seed)
    os.makedirs(root)
    dirs = [root]
    for i in range(n_dirs):
        d = os.path.join(rnd.choice(dirs), "dir%03d" % i)
        os.mkdir(d)
        dirs.append(d)
    count = 0
    for i in range(n_files):
        d = rnd.choice(dirs)
        p = os.path.join(d, "file%05d%s" % (i, rnd.choice([".txt", ".c", "", ".bin"])))
        size = rnd.choice([0, 1, 100, 1000, 4096, rnd.randrange(1, 20000)])
        with open(p, "wb") as f:
            f.write(rnd.randbytes(size))
        os.chmod(p, rnd.choice([0o644, 0o600, 0o755, 0o640, 0o444]))
        if i % 7 == 0:
            os.chown(p, 1000 + i % 3, 1000 + i % 5)
        os.utime(p, ns=(1600000000_000000000 + i, 1600000000_000000000 + i * 1000003))
        count += 1
        if i % 50 == 0:
            os.symlink(os.path.basename(p), os.path.join(d, "link%05d" % i))
    for i, d in enumerate(reversed(dirs[1:])):
        os.chmod(d, rnd.choice([0o755, 0o700, 0o750]))
        os.utime(d, ns=(1600000000_000000000, 1610000000_000000000 + i * 999))
    return count


@pytest.fixture(scope="module")
def src_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("srctree")
    src = os.path.join(str(base), "src")
    n = make_tree(src, 60, 2500, 1)
    tarball = os.path.join(str(base), "src.tar")
    run(["tar", "--format=posix", "-cf", tarball, "-C", src, "."])
    return src, tarball, n


@pytest.mark.watchdog(240)
def test_tar_extract_diff(mnt, src_tree):
    src, tarball, n = src_tree
    dst = mnt.path("x")
    os.mkdir(dst)
    run(["tar", "-xf", tarball, "-C", dst], timeout=T(180))
    log("extracted %d files" % n)
    run(["diff", "-r", "--no-dereference", src, dst])
    want = snapshot(src, dir_mtime=True)
    assert_same_tree(want, snapshot(dst, dir_mtime=True), "source", "mount")
    assert_server_matches(mnt, "x", timeout=T(180))
    mnt.unmount()
    mnt.mount()
    run(["diff", "-r", "--no-dereference", src, dst])
    assert_same_tree(want, snapshot(dst, dir_mtime=True), "source", "mount after remount")


# --------------------------------------------------------------------------
# rsync -a, cp -a

@pytest.fixture
def small_tree(tmp_path):
    src = os.path.join(str(tmp_path), "small-src")
    make_tree(src, 12, 200, 2)
    return src


@pytest.mark.watchdog(180)
def test_rsync_preserves(mnt, small_tree):
    src = small_tree
    dst = mnt.path("r")
    run(["rsync", "-a", src + "/", dst + "/"])
    assert_same_tree(snapshot(src, dir_mtime=True), snapshot(dst, dir_mtime=True), "source",
                     "rsync -a copy")
    # a second run finds nothing to do (sizes, mtimes, modes, owners match)
    r = run(["rsync", "-a", "-i", src + "/", dst + "/"])
    assert r.stdout.strip() == "", "rsync found differences:\n" + r.stdout[:3000]
    # change one file and one mode in the source: rsync moves just those
    victim = sorted(p for p in snapshot(src) if p.endswith(".txt"))[0]
    with open(os.path.join(src, victim), "ab") as f:
        f.write(b"appended")
    os.chmod(os.path.join(src, victim), 0o600)
    r = run(["rsync", "-a", "-i", src + "/", dst + "/"])
    changed = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(changed) in (1, 2) and any(victim in ln for ln in changed), r.stdout
    assert_same_tree(snapshot(src, dir_mtime=True), snapshot(dst, dir_mtime=True), "source",
                     "rsync -a copy after the update")
    # rsync --delete
    os.unlink(os.path.join(src, victim))
    run(["rsync", "-a", "--delete", src + "/", dst + "/"])
    assert not os.path.exists(os.path.join(dst, victim))
    assert_server_matches(mnt, "r", timeout=T(90))


@pytest.mark.watchdog(180)
def test_cp_a_preserves(mnt, small_tree):
    src = small_tree
    dst = mnt.path("c")
    run(["cp", "-a", src, dst])
    want = snapshot(src, dir_mtime=True)
    assert_same_tree(want, snapshot(dst, dir_mtime=True), "source", "cp -a copy")
    # and back out of the mount
    out = os.path.join(os.path.dirname(src), "back")
    run(["cp", "-a", dst, out])
    assert_same_tree(want, snapshot(out, dir_mtime=True), "source", "copied back out")
    assert_server_matches(mnt, "c", timeout=T(90))


# --------------------------------------------------------------------------
# editor-style save

def test_editor_save(mnt):
    doc = mnt.path("doc.txt")
    write_file(doc, b"version 0\n")
    old = open(doc, "rb")                      # a reader of the first version
    try:
        for i in range(1, 6):
            tmp = mnt.path(".doc.txt.%d.tmp" % i)
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, b"version %d\n" % i * (i * 1000))
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, doc)
            dfd = os.open(mnt.mnt, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)
            assert read_file(doc) == b"version %d\n" % i * (i * 1000)
        assert old.read() == b"version 0\n"
    finally:
        old.close()
    # vim-style: rename to a backup, write a new file, drop the backup
    os.rename(doc, doc + "~")
    write_file(doc, b"vim save\n")
    os.unlink(doc + "~")
    assert ls(mnt) == ["doc.txt"]
    assert read_file(doc) == b"vim save\n"
    assert_server_matches(mnt)


# --------------------------------------------------------------------------
# sqlite

def fill_db(path, journal_mode, tx=20, rows=200):
    con = sqlite3.connect(path, isolation_level=None)
    try:
        assert con.execute("pragma journal_mode=%s" % journal_mode).fetchone()[0] == journal_mode
        con.execute("create table t(id integer primary key, name text, data blob)")
        con.execute("create index t_name on t(name)")
        rnd = random.Random(7)
        for i in range(tx):
            con.execute("begin")
            for j in range(rows):
                k = i * rows + j
                con.execute("insert into t(id, name, data) values (?, ?, ?)",
                            (k, "name-%06d" % rnd.randrange(10**6), rnd.randbytes(200)))
            con.execute("commit")
        con.execute("begin")
        con.execute("update t set name = 'updated' where id % 10 = 0")
        con.execute("delete from t where id % 10 = 1")
        con.execute("commit")
        con.execute("begin")                   # a rolled back transaction leaves no trace
        con.execute("delete from t")
        con.execute("rollback")
        assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
        return db_summary(con)
    finally:
        con.close()


def db_summary(con):
    assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
    n = con.execute("select count(*) from t").fetchone()[0]
    upd = con.execute("select count(*) from t where name = 'updated'").fetchone()[0]
    h = sha(b"".join(r[0] for r in con.execute("select data from t order by id")))
    return n, upd, h


def check_db(path):
    con = sqlite3.connect(path)
    try:
        return db_summary(con)
    finally:
        con.close()


@pytest.mark.watchdog(180)
@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_sqlite(mnt, tmp_path, journal_mode):
    db = mnt.path("app.db")
    summary = bounded(fill_db, db, journal_mode, timeout=T(120), what="sqlite fill")
    assert summary[0] == 20 * 200 - 400 and summary[1] == 400, summary
    assert bounded(check_db, db, timeout=T(60)) == summary
    assert_server_matches(mnt, timeout=T(90))
    # the server's copy is a sound database too
    node = mnt.account.lookup("app.db")
    copy = os.path.join(str(tmp_path), "server-copy.db")
    write_file(copy, mnt.account.download(node["id"]))
    assert check_db(copy) == summary
    mnt.unmount()
    mnt.mount()
    assert bounded(check_db, db, timeout=T(60)) == summary
    # the sqlite3 CLI agrees
    r = run(["sqlite3", db, "pragma integrity_check; select count(*) from t;"])
    assert r.stdout.split() == ["ok", str(summary[0])], r.stdout
