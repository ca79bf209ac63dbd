"""Runs a systemd service unit's command the way systemd would, for test
machines where systemd is not PID 1 (containers, CI): the unit's User= and
Group=, its State/Configuration directories created and passed in the
environment, %f/%i specifiers and ${VAR}s expanded, ExecStartPre= run, and
Type=notify readiness awaited on a real $NOTIFY_SOCKET. The sandboxing
directives are not applied here: `systemd-analyze verify` checks them.
"""
import grp
import os
import pwd
import shlex
import socket
import subprocess
import tempfile
import time


def parse_unit(path):
    """{section: [(key, value), ...]} of a unit file."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                out.setdefault(section, [])
            else:
                k, _, v = line.partition("=")
                out[section].append((k.strip(), v.strip()))
    return out


def unescape_path(instance):
    """systemd-escape --path, undone: the %f of a template instance."""
    s = instance.replace("-", "/")
    while "\\x" in s:
        i = s.index("\\x")
        s = s[:i] + chr(int(s[i + 2:i + 4], 16)) + s[i + 4:]
    return "/" + s.lstrip("/")


class UnitProcess:
    """The main process of a running unit, started by start_unit()."""

    def __init__(self, proc, status, log_path):
        self.proc, self.status, self.log_path = proc, status, log_path

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=30):
        """SIGTERM, as systemctl stop sends; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout)


def start_unit(path, instance=None, env=None, timeout=30, workdir=None, user=None):
    """Starts the [Service] of the unit at path; returns a UnitProcess once
    it sent READY=1 (Type=notify) or at once for other types. user: whom a
    user unit's manager runs as (systemd --user)."""
    entries = parse_unit(path)["Service"]
    svc = dict(entries)
    user = svc.get("User", user)
    group = svc.get("Group", user)
    environ = dict(os.environ if env is None else env)
    pw = pwd.getpwnam(user) if user else pwd.getpwuid(os.getuid())
    environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
    for key, base, var in (("StateDirectory", "/var/lib", "STATE_DIRECTORY"),
                           ("ConfigurationDirectory", "/etc", "CONFIGURATION_DIRECTORY")):
        if key in svc:
            d = os.path.join(base, svc[key])
            os.makedirs(d, exist_ok=True)
            if key == "StateDirectory":
                os.chown(d, pw.pw_uid, _gid(group, pw))
                os.chmod(d, int(svc.get("StateDirectoryMode", "0755"), 8))
            environ[var] = d

    def expand(cmd):
        if instance is not None:
            cmd = cmd.replace("%f", unescape_path(instance)).replace("%i", instance)
        for k, v in environ.items():
            cmd = cmd.replace("${%s}" % k, v)
        return cmd

    drop = []
    if user:
        drop = ["setpriv", "--reuid=%s" % user, "--regid=%s" % _gid(group, pw),
                "--init-groups", "--"]
    for cmd in [v for k, v in entries if k == "ExecStartPre"]:
        optional = cmd.startswith("-")
        r = subprocess.run(drop + shlex.split(expand(cmd.lstrip("-"))), env=environ)
        assert optional or r.returncode == 0, "ExecStartPre %s failed" % cmd
    tmp = tempfile.mkdtemp(prefix="unitrun-")
    log_path = os.path.join(tmp, "stderr.log")
    sock_path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    os.chmod(tmp, 0o755)
    os.chmod(sock_path, 0o777)
    environ["NOTIFY_SOCKET"] = sock_path
    argv = shlex.split(expand(svc["ExecStart"]))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(drop + argv, env=environ, stdout=log, stderr=log,
                                cwd=workdir or "/")
    status = ""
    if svc.get("Type") == "notify":
        sock.settimeout(0.2)
        deadline = time.time() + timeout
        while "READY=1" not in status:
            if proc.poll() is not None or time.time() > deadline:
                if proc.poll() is None:
                    proc.kill()
                with open(log_path, errors="replace") as f:
                    raise AssertionError("%s did not become ready (exit %r): %s" % (
                        os.path.basename(path), proc.poll(), f.read()[-3000:]))
            try:
                status += sock.recv(4096).decode() + "\n"
            except socket.timeout:
                pass
    sock.close()
    return UnitProcess(proc, status, log_path)


def _gid(group, pw):
    return grp.getgrnam(group).gr_gid if group else pw.pw_gid
