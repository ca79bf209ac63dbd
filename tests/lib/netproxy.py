"""A TCP relay between one client (a dbxfs mount) and dbxd on 127.0.0.1,
which a test can take offline and back: offline() resets every relayed
connection and refuses new ones (accepted, then closed at once), so the
client sees what a dropped network looks like; online() relays again.

    p = NetProxy(server_port).start()
    ... mount with server=p.url ...
    p.offline(); ...; p.online()
    p.stop()

It can also slow the link: throttle(bytes_per_second) caps what all the
relayed connections together send from the client to the server (an
upload), throttle(None) lifts the cap; the server-to-client direction is
never slowed. NetProxy(port, up_bps=N) starts throttled.

One thread accepts; each connection has two pumping threads. Nothing is
buffered beyond one recv() at a time."""
import socket
import threading
import time


class NetProxy:
    def __init__(self, target_port, target_host="127.0.0.1", up_bps=None):
        self.target = (target_host, target_port)
        self.lock = threading.Lock()
        self.conns = set()
        self.is_online = True
        self.stopped = False
        self.sock = None
        self.thread = None
        self.accepted = 0
        self.up = _Meter(up_bps)
        self.up_bytes = 0       # relayed client -> server, throttled or not

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopped = True
        self._drop_all()
        try:
            self.sock.close()
        except OSError:
            pass

    def offline(self):
        with self.lock:
            self.is_online = False
        self._drop_all()

    def online(self):
        with self.lock:
            self.is_online = True

    def throttle(self, up_bps):
        """Caps the client-to-server direction at up_bps bytes a second
        (None: no cap), from the next piece of data each connection relays."""
        self.up.set_rate(up_bps)

    # --- internals
    def _drop_all(self):
        with self.lock:
            conns = list(self.conns)
            self.conns.clear()
        for s in conns:
            _reset(s)

    def _accept_loop(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with self.lock:
                up = self.is_online and not self.stopped
            if not up:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(self, client, server)
            with self.lock:
                self.conns.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=pair.pump, args=(a, b), daemon=True).start()


class _Pair:
    """One relayed connection: two pumps; the sockets close when both end."""

    def __init__(self, proxy, client, server):
        self.proxy = proxy
        self.socks = (client, server)
        self.left = 2
        self.lock = threading.Lock()

    def pump(self, src, dst):
        upstream = src is self.socks[0]
        meter = self.proxy.up
        try:
            while True:
                data = src.recv(meter.piece() if upstream else 65536)
                if not data:
                    break
                if upstream:
                    meter.take(len(data))
                    with self.proxy.lock:
                        self.proxy.up_bytes += len(data)
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.left -= 1
            last = self.left == 0
        if last:
            with self.proxy.lock:
                for s in self.socks:
                    self.proxy.conns.discard(s)
            for s in self.socks:
                _close(s)


class _Meter:
    """A rate shared by every connection of a proxy: each piece of data
    books the link for len/rate seconds after the pieces before it, and its
    pump waits for the end of its booking before sending it on."""

    def __init__(self, bps=None):
        self.lock = threading.Lock()
        self.bps = None
        self.free_at = 0.0
        self.set_rate(bps)

    def set_rate(self, bps):
        if bps is not None and bps <= 0:
            raise ValueError("a rate is a positive number of bytes a second")
        with self.lock:
            self.bps = bps
            self.free_at = time.monotonic()

    def piece(self):
        """How much one recv() takes: about 1/20 s of data when throttled,
        so that the cap holds over short times too."""
        bps = self.bps
        return 65536 if bps is None else max(512, min(65536, int(bps) // 20))

    def take(self, n):
        with self.lock:
            if self.bps is None:
                return
            now = time.monotonic()
            self.free_at = max(self.free_at, now) + n / self.bps
            wait = self.free_at - now
        time.sleep(wait)


def _reset(s):
    """Ends the connection at once for both the peer and the pump threads
    blocked on it: a close alone would wait for their recv() to return (the
    socket lives while a thread is in it), and the peer would hang."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    _close(s)


def _close(s):
    try:
        s.close()
    except OSError:
        pass
