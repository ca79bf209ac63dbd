"""Black-box API tests for dbxd, written against docs/api.md.

Run:  /usr/bin/python3 -m pytest tests/api            (from the repo root)
The dbxd binary is $DBXD, default /work/main/build/backend/dbxd (relative to
this repository: build/backend/dbxd).

Every server runs on 127.0.0.1 with --port 0 in a pytest tmp dir and is
stopped (SIGTERM, then SIGKILL) in a finalizer. When a test fails, the tail
of every server's stderr that was alive during the test is attached to the
report.

The Server and Client classes and the helpers live in tests/lib/dbxtest.py
(shared with tests/fs); this file re-exports them, so the tests keep
`from conftest import ...`.
"""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from dbxtest import *  # noqa: E402,F401,F403  (the tests import these from conftest)
from dbxtest import _LIVE, _json_dumps, _zstd  # noqa: E402,F401


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        attach_server_logs(rep)


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server: users alice, bob, carol."""
    yield from serve(tmp_path_factory, "main", name="main")


@pytest.fixture(scope="session")
def alice(server):
    return server.client("alice")


@pytest.fixture(scope="session")
def bob(server):
    return server.client("bob")


@pytest.fixture(scope="session")
def carol(server):
    return server.client("carol")


@pytest.fixture
def anon(server):
    return server.client()


@pytest.fixture
def adir(alice, request):
    """A fresh directory under alice's root for one test."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:200] + "-" + new_id()[:6]
    return alice.mkdir(alice.root, name)


@pytest.fixture
def make_server(tmp_path_factory):
    """Factory for extra servers, stopped at the end of the test."""
    made = []

    def make(name="extra", args=(), users=USERS, start=True, **kw):
        s = Server(tmp_path_factory.mktemp(name), name=name, args=args, users=users, **kw)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in made:
        s.stop_checked()


def start_module_server(tmp_path_factory, request, name, args=(), users=USERS, **kw):
    s = Server(tmp_path_factory.mktemp(name), name=name, args=args, users=users, **kw)
    request.addfinalizer(s.stop_checked)
    s.start()
    return s
