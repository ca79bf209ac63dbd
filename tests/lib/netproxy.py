"""A TCP relay between one client (a dbxfs mount) and dbxd on 127.0.0.1,
which a test can take offline and back: offline() resets every relayed
connection and refuses new ones (accepted, then closed at once), so the
client sees what a dropped network looks like; online() relays again.

    p = NetProxy(server_port).start()
    ... mount with server=p.url ...
    p.offline(); ...; p.online()
    p.stop()

One thread accepts; each connection has two pumping threads. Nothing is
buffered beyond one recv() at a time."""
import socket
import threading


class NetProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.lock = threading.Lock()
        self.conns = set()
        self.is_online = True
        self.stopped = False
        self.sock = None
        self.thread = None
        self.accepted = 0

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
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
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
