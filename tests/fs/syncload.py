"""The randomized multi-device sync workload of tests/fs/test_sync_random.py
(DBX_SYNC_SECONDS makes it a soak).

Each device (a mount of one account, reached through its own NetProxy so
it can be taken offline, and killed with -9 and mounted again now and
then) runs a thread of random operations over a small set of names, so
that the devices collide often: create, overwrite,
append, truncate, chmod, rename (also over an existing file), unlink,
mkdir, rmdir, over 12 names at two levels below 4 directories. Each
device's operations come from its own random.Random(seed, device), so a
seed replays every device's choices (the interleaving between devices is
the machine's).

What it records, for the no-loss check: every content a device closed
(each write is unique: device, operation number, random bytes), and every
content a device saw just before it destroyed it. A destructive operation
holds the victim open while it reads it and destroys it, so what it read
is exactly what it destroyed (remote changes to an open file wait for its
last close); unlink and rename-over then check through the descriptor
(st_nlink 0) that the node destroyed was the one read. If it was not (the
name was re-pointed by a sync in the microseconds between), the operation
counts as an unseen destruction, which excuses one loss.

The check: once every device is online and quiet, every device and dbxd
hold the same tree, and every content some device closed is present in it
(under any name, conflicted copies included) unless some device destroyed
it having seen it.
"""
import errno
import hashlib
import os
import random
import re
import stat
import threading
import time

DIRS = ["d0", "d1", "d2", "d3"]
NAMES = ["n%d" % i for i in range(12)]
MODES = [0o600, 0o644, 0o640, 0o664, 0o755]
CONFLICT = re.compile(r" \(conflicted copy ")

ONLINE_GRACE = 2.0

# errnos a random operation may meet on any filesystem; and ESTALE, which
# the kernel gives a path lookup that meets a directory just moved by
# another device while its old place is still cached (a network
# filesystem's errno; the VFS has already retried once)
EXPECTED = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR,
            errno.EINVAL, errno.EXDEV, errno.ESTALE}


def digest(data):
    return hashlib.sha256(data).hexdigest()


class Device:
    """One device's side of the workload."""

    def __init__(self, mount, proxy, seed, index):
        self.m = mount
        self.proxy = proxy
        self.name = mount.name
        self.rng = random.Random("%s/%d" % (seed, index))
        self.ops = 0
        self.counts = {}
        self.errors = {}
        self.unexpected = []
        self.closed = set()        # digests of contents this device closed
        self.seen = set()          # digests read right before destroying them
        self.unseen_destroys = 0
        self.offline_since = None
        self.online_at = 0.0
        self.offline_periods = 0
        self.crashes = 0
        self.stop = False

    # --- paths
    def rand_path(self):
        d = self.rng.choice(DIRS)
        parts = [d, self.rng.choice(NAMES)]
        if self.rng.random() < 0.3:
            parts.append(self.rng.choice(NAMES))
        return "/".join(parts)

    def p(self, rel):
        return self.m.path(rel)

    def content(self, size=None):
        if size is None:
            r = self.rng.random()
            size = self.rng.randint(1, 2000) if r < 0.9 else \
                self.rng.randint(2000, 200000) if r < 0.99 else self.rng.randint(1 << 20, 3 << 20)
        head = ("%s:%d:" % (self.name, self.ops)).encode()
        body = self.rng.randbytes(max(0, size - len(head)))
        return head + body

    # --- operations (each raises OSError on failure)
    def op_create(self):
        data = self.content()
        fd = os.open(self.p(self.rand_path()), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self.closed.add(digest(data))

    def _rewrite(self, how):
        fd = os.open(self.p(self.rand_path()), os.O_RDWR)
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                return
            old = _read_all(fd)
            if how == "overwrite":
                new = self.content()
            elif how == "append":
                new = old + self.content(self.rng.randint(1, 500))
            else:
                new = old[:self.rng.randint(0, len(old))]
            self.seen.add(digest(old))
            if how == "append":
                os.pwrite(fd, new[len(old):], len(old))
            else:
                os.ftruncate(fd, 0 if how == "overwrite" else len(new))
                if how == "overwrite":
                    os.pwrite(fd, new, 0)
        finally:
            os.close(fd)
        self.closed.add(digest(new))

    def op_overwrite(self):
        self._rewrite("overwrite")

    def op_append(self):
        self._rewrite("append")

    def op_truncate(self):
        self._rewrite("truncate")

    def op_chmod(self):
        os.chmod(self.p(self.rand_path()), self.rng.choice(MODES))

    def _destroy(self, rel, action):
        """action() destroys what is at rel; a file there is held open and
        read first, so that what was destroyed is known."""
        try:
            fd = os.open(self.p(rel), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ELOOP):
                raise
            action()
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                fd = None
                action()
                return
            self.seen.add(digest(_read_all(fd)))
            action()
            if os.fstat(fd).st_nlink != 0:
                self.unseen_destroys += 1
        finally:
            if fd is not None:
                os.close(fd)

    def op_rename(self):
        src, dst = self.rand_path(), self.rand_path()
        if self.rng.random() < 0.5 and not os.path.lexists(self.p(dst)):
            dst = self.rand_path()     # lean towards replacing something
        self._destroy(dst, lambda: os.rename(self.p(src), self.p(dst)))

    def op_unlink(self):
        rel = self.rand_path()
        self._destroy(rel, lambda: os.unlink(self.p(rel)))

    def op_mkdir(self):
        os.mkdir(self.p(self.rand_path()))

    def op_rmdir(self):
        os.rmdir(self.p(self.rand_path()))

    def op_read(self):
        with open(self.p(self.rand_path()), "rb") as f:
            f.read()

    OPS = [("create", 18), ("overwrite", 12), ("append", 8), ("truncate", 4),
           ("chmod", 6), ("rename", 14), ("unlink", 10), ("mkdir", 8), ("rmdir", 6),
           ("read", 6)]

    def step(self):
        total = sum(w for _, w in self.OPS)
        r = self.rng.uniform(0, total)
        for name, w in self.OPS:
            r -= w
            if r <= 0:
                break
        self.ops += 1
        try:
            getattr(self, "op_" + name)()
            self.counts[name] = self.counts.get(name, 0) + 1
        except OSError as e:
            self.errors[e.errno] = self.errors.get(e.errno, 0) + 1
            # offline, a directory never listed here cannot be looked into
            # (nor just after: a request under way when the link came back)
            away = self.offline_since or time.time() - self.online_at < ONLINE_GRACE
            if e.errno not in EXPECTED and not (e.errno == errno.EIO and away):
                self.unexpected.append("%s: %s" % (name, e))

    def run(self, until, offline_every=0.0, crash_every=0.0):
        next_switch = time.time() + self.rng.uniform(2, 6) if offline_every else None
        next_crash = time.time() + self.rng.uniform(3, crash_every) if crash_every else None
        while time.time() < until and not self.stop:
            if next_switch and time.time() >= next_switch:
                self.toggle_offline()
                next_switch = time.time() + (self.rng.uniform(1, 4) if self.offline_since
                                             else self.rng.uniform(2, offline_every))
            if next_crash and time.time() >= next_crash:
                self.crash()
                next_crash = time.time() + self.rng.uniform(3, crash_every)
            self.step()
        if self.offline_since:
            self.toggle_offline()

    def crash(self):
        """kill -9 of the mount, then mount again: everything closed before
        must survive (its queue and dirty set are in the cache)."""
        self.m.kill9()
        self.m.mount()
        self.crashes += 1

    def toggle_offline(self):
        if self.offline_since:
            self.proxy.online()
            self.offline_since = None
            self.online_at = time.time()
        else:
            self.proxy.offline()
            self.offline_since = time.time()
            self.offline_periods += 1


def _read_all(fd):
    out = []
    off = 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            return b"".join(out)
        out.append(b)
        off += len(b)


def run_devices(devices, seconds, offline_every=0.0, crash_every=0.0):
    """Runs every device's thread for `seconds` (each going offline every
    few seconds up to offline_every, and killed and mounted again every few
    up to crash_every, when given); returns the elapsed time."""
    until = time.time() + seconds
    errors = []

    def body(d):
        try:
            d.run(until, offline_every, crash_every)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append("%s: %r" % (d.name, e))

    threads = [threading.Thread(target=body, args=(d,), daemon=True) for d in devices]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    assert not errors, "workload threads failed: %s" % errors
    return time.time() - t0


def tree_contents(root):
    """digest -> [relpath] of every regular file under root."""
    out = {}
    for dp, dns, fns in os.walk(root):
        for fn in fns:
            p = os.path.join(dp, fn)
            try:
                with open(p, "rb") as f:
                    out.setdefault(digest(f.read()), []).append(os.path.relpath(p, root))
            except OSError:
                pass
    return out


def lost_contents(devices, final):
    """Contents closed by some device and destroyed unseen: absent from
    `final` (digest -> paths) and read by no device before it destroyed
    them. Empty contents never count (every truncate to 0 makes one)."""
    empty = digest(b"")
    seen = set().union(*(d.seen for d in devices))
    lost = []
    for d in devices:
        for h in d.closed:
            if h != empty and h not in final and h not in seen:
                lost.append((d.name, h))
    return lost


def conflicted(snap):
    return sorted(p for p in snap if CONFLICT.search(os.path.basename(p)))
