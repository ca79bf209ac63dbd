"""dbxd's settings: the config file (what dbxd.service reads), flags with
explicit values, ranges, and signals a service manager sends."""
import signal
import time

from conftest import dbxd_run, ok


def test_config_file_spellings(make_server, tmp_path):
    """--config, --config-file and -c all read the file (dbxd.service uses
    --config); the command line wins over it."""
    bad = tmp_path / "bad.conf"
    bad.write_text("# comment\nno-such-setting = 1\n")
    conf = tmp_path / "dbxd.conf"
    conf.write_text("# dbxd.conf\nlisten = 0.0.0.0\nurl-ttl = 77\n")
    for flag in ("--config", "--config-file", "-c"):
        r = dbxd_run(["serve", "-d", str(tmp_path), flag, str(bad)], timeout=10)
        assert r.returncode == 2 and "bad.conf:2: bad setting" in r.stderr, (flag, r.stderr)
        r = dbxd_run(["serve", "-d", str(tmp_path), flag, str(conf)], timeout=10)
        assert r.returncode == 2 and "refusing to listen on 0.0.0.0" in r.stderr, r.stderr
        # the test server passes --listen 127.0.0.1: it starts
        make_server("conf", args=[flag, str(conf)]).stop_checked()
    r = dbxd_run(["serve", "--config-file", str(tmp_path / "missing.conf")])
    assert r.returncode == 2 and "cannot read config" in r.stderr, r.stderr


def test_flag_values(tmp_path):
    """`insecure-bind = no` must not turn the flag on (it once did)."""
    for value in ("no", "false", "0", "off"):
        r = dbxd_run(["serve", "-d", str(tmp_path), "--listen", "0.0.0.0",
                      "--insecure-bind=" + value], timeout=10)
        assert r.returncode == 2 and "refusing to listen on 0.0.0.0" in r.stderr, (value, r.stderr)
    conf = tmp_path / "c.conf"
    conf.write_text("insecure-bind = no\nlisten = 0.0.0.0\n")
    r = dbxd_run(["serve", "-d", str(tmp_path), "--config", str(conf)], timeout=10)
    assert r.returncode == 2 and "refusing to listen" in r.stderr, r.stderr
    r = dbxd_run(["serve", "-d", str(tmp_path), "--insecure-bind=maybe"], timeout=10)
    assert r.returncode == 2 and "insecure" in r.stderr, r.stderr


def test_port_range(tmp_path):
    r = dbxd_run(["serve", "-d", str(tmp_path), "--port", "70000"], timeout=10)
    assert r.returncode == 2 and "not a TCP port" in r.stderr, r.stderr


def test_sighup_does_not_stop_dbxd(server, alice):
    """systemd and logrotate send SIGHUP; there is nothing to reload."""
    server.proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    assert server.proc.poll() is None
    ok(alice.get("/v1/me"))
