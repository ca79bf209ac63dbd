"""HTTPS with a test CA, and the refusal to listen in the clear off loopback."""
import os
import ssl
import subprocess
import time

import pytest
import requests

from conftest import DBXD, USERS, Server, err, ok, rand_bytes, raw_http, require_binary


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, "openssl %s: %s" % (" ".join(args), r.stderr)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=dbxfs test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    # a second, unrelated CA
    openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.crt", "-days", "2",
            "-subj", "/CN=other CA", cwd=d)
    return {k: os.path.join(d, v) for k, v in
            [("ca", "ca.crt"), ("cert", "srv.crt"), ("key", "srv.key"), ("other", "other.crt")]}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, request, certs):
    s = Server(tmp_path_factory.mktemp("tls"), name="tls",
               tls=(certs["cert"], certs["key"], certs["ca"]),
               users={"alice": USERS["alice"], "bob": USERS["bob"]})
    request.addfinalizer(s.stop_checked)
    s.start()
    return s


def test_https_round_trip(tls_server):
    assert tls_server.url.startswith("https://127.0.0.1:"), tls_server.url
    c = tls_server.client("alice")
    assert ok(c.get("/v1/me"))["user"] == "alice"
    data = rand_bytes(200 * 1024)
    f = c.write_file(c.root, "over-tls.bin", data)
    assert c.download(f["id"]) == data
    j = ok(c.post("/v1/nodes/%s/links" % f["id"], {"expires_in": 60}))
    r = requests.get(c.url(j["url"]), verify=tls_server.tls[2], timeout=10)
    assert r.content == data


def test_https_verification_fails_without_ca(tls_server, certs):
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(tls_server.url + "/v1/login", json={"user": "alice",
                                                          "password": USERS["alice"]},
                      timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.url + "/v1/me", verify=certs["other"], timeout=10)
    # the name must match too: the certificate is for 127.0.0.1 only
    port = tls_server.url.rsplit(":", 1)[1]
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://localhost:%s/v1/me" % port, verify=certs["ca"], timeout=10)


def test_plain_http_to_tls_port(tls_server):
    st, _h, _b = raw_http(tls_server.url.replace("https", "http"),
                          b"GET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert st is None or 400 <= st < 500
    c = tls_server.client("bob")
    ok(c.get("/v1/me"))


def test_tls_garbage_handshake(tls_server):
    raw_http(tls_server.url.replace("https", "http"), os.urandom(2000), timeout=3)
    ctx = ssl.create_default_context(cafile=tls_server.tls[2])
    st, _h, _b = raw_http(tls_server.url, b"GARBAGE\r\n\r\n", timeout=5, tls_ctx=ctx)
    assert st is None or 400 <= st < 500
    ok(tls_server.client("alice").get("/v1/me"))


def _wait_exit(p, timeout):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
        return None


def test_non_loopback_bind_without_tls_refused(tmp_path):
    require_binary()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    ready = tmp_path / "ready"
    p = subprocess.Popen([DBXD, "serve", "-d", str(data), "--listen", "0.0.0.0", "--port", "0",
                          "--ready-file", str(ready)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rc = _wait_exit(p, 10)
    out = p.stdout.read() + p.stderr.read()
    assert rc is not None, "dbxd kept running on 0.0.0.0 without TLS"
    assert rc != 0
    assert out.strip(), "refusal printed no message"
    assert not ready.exists() or ready.read_text() == ""


def test_non_loopback_bind_with_insecure_bind(make_server):
    s = make_server("insecure", args=["--insecure-bind"], listen="0.0.0.0",
                    users={"alice": "pw"})
    c = s.client("alice", "pw")
    ok(c.get("/v1/me"))


def test_non_loopback_bind_with_tls(make_server, certs):
    s = make_server("tlsany", listen="0.0.0.0", tls=(certs["cert"], certs["key"], certs["ca"]),
                    users={"alice": "pw"})
    assert s.url.startswith("https://")
    ok(s.client("alice", "pw").get("/v1/me"))


def test_bad_tls_files_refused(tmp_path, certs):
    require_binary()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    for cert, key in [(str(tmp_path / "missing.crt"), certs["key"]),
                      (certs["cert"], certs["ca"])]:
        ready = tmp_path / ("ready-%d" % time.monotonic_ns())
        p = subprocess.Popen([DBXD, "serve", "-d", str(data), "--listen", "127.0.0.1",
                              "--port", "0", "--ready-file", str(ready), "--tls-cert", cert,
                              "--tls-key", key], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rc = _wait_exit(p, 10)
        assert rc is not None and rc != 0, "dbxd started with bad TLS files %s %s" % (cert, key)
