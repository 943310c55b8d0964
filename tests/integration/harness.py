"""Test harness: real devstate and Mosquitto processes on free loopback ports.

Servers are started by the test, polled until ready (never slept on), and stopped by PID.
Run under /usr/bin/python3 (Debian's python3-paho-mqtt and python3-redis live there).
Environment: DEVSTATE_BIN (the devstate binary), DEVSTATE_ROOT (the source tree).
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("DEVSTATE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DEVSTATE_BIN", os.path.join(ROOT, "build", "release", "service", "devstate"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = e
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_request(port, method, path, body=None, headers=None, https=None):
    """One request on a fresh connection to 127.0.0.1:port: (status, headers, body).
    `https`: an ssl.SSLContext when the listener speaks TLS."""
    if https:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=https)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


class EventStream:
    """A Server-Sent Events client (what a browser's EventSource does) on a plain socket:
    GET `path`, then read events as they come."""

    def __init__(self, port, path, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self._until(b"\r\n\r\n", 10)
        status_line, *fields = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = dict(f.split(": ", 1) for f in fields if f)

    def _until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                return None
            if not chunk:
                return None
            self.buffer += chunk
        at = self.buffer.index(marker)
        out, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
        return out

    def next_event(self, timeout=5):
        """The next event as {"id", "event", "data"} (comments and retry lines skipped), or
        None if none comes within `timeout` or the stream ended."""
        deadline = time.monotonic() + timeout
        while True:
            block = self._until(b"\n\n", max(0, deadline - time.monotonic()))
            if block is None:
                return None
            event = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                event[name] = event[name] + "\n" + value if name in event else value
            if "data" in event:
                return event

    def close(self):
        self.sock.close()


def tail(path, lines=25):
    """The last lines of a server's log, for a failure message."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({e})"


class Mosquitto:
    """Mosquitto from the project's config/mosquitto.conf, on its own port and directory."""

    def __init__(self, workdir, port=None, name="mosquitto", extra=""):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        with open(os.path.join(ROOT, "config", "mosquitto.conf")) as f:
            conf = f.read()
        conf = re.sub(r"(?m)^listener .*$", f"listener {self.port} 127.0.0.1", conf)
        conf = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {self.dir}/", conf)
        if extra:  # e.g. TLS and passwords: replaces anonymous access
            conf = re.sub(r"(?m)^allow_anonymous .*$", "", conf) + "\n" + extra + "\n"
        if os.geteuid() == 0:
            conf += "\nuser root\n"  # keep the test's own directory writable
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is None and port_open(self.port), 10, "mosquitto")

    @property
    def uri(self):
        return f"tcp://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class PortTaken(AssertionError):
    """The server could not listen: another socket holds the port."""


class Devstate:
    """One devstate process. `args` are extra --section.key=value options."""

    def __init__(self, workdir, broker=None, args=(), store_dir=None, http_port=None, https=None,
                 start_timeout=20):
        """`https`: an ssl.SSLContext when the HTTP listener speaks TLS. `start_timeout`: how
        long a start may take to serve (recovering a large store takes longer)."""
        self.https = https
        self.start_timeout = start_timeout
        self.workdir = workdir
        self.store_dir = store_dir or os.path.join(workdir, "store")
        self.http_port = http_port or free_port()
        self.resp_port = free_port()
        self.broker = broker
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(workdir, "devstate.log")
        # A port free_port() found may be taken before the server binds it (an outgoing
        # connection gets it as its local port): the first start takes fresh ports then.
        for attempt in range(3):
            try:
                self.start()
                return
            except PortTaken:
                if attempt == 2 or http_port:
                    raise
                self.http_port, self.resp_port = free_port(), free_port()

    def start(self):
        cmd = [BIN, f"--store.dir={self.store_dir}", f"--http.port={self.http_port}",
               f"--resp.port={self.resp_port}",
               f"--mqtt.broker={self.broker or ''}", "--mqtt.reconnect_max_ms=500", *self.args]
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

        def serving():
            if self.proc.poll() is not None:  # it exited: say why now, not at the timeout
                self.log.close()
                why = tail(self.log_path, 5)
                if "Address already in use" in why:
                    raise PortTaken(why)
                raise AssertionError(f"devstate exited with {self.proc.returncode}:\n{why}")
            return self.get("/healthz")[0] == 200 and port_open(self.resp_port)
        wait_until(serving, self.start_timeout, "devstate /healthz and RESP port")

    def wait_ready(self, timeout=20):
        wait_until(lambda: self.get("/readyz")[0] == 200, timeout, "devstate /readyz")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.log.close()
        return self.proc.returncode

    def request(self, method, path, body=None, headers=None):
        return http_request(self.http_port, method, path, body, headers, self.https)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def get_json(self, path):
        status, _, body = self.get(path)
        return status, (json.loads(body) if body else None)

    def post_json(self, path, obj, content_type="application/json"):
        body = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
        status, _, data = self.request("POST", path, body, {"Content-Type": content_type})
        return status, json.loads(data) if data else None

    def device(self, device_id):
        status, body = self.get_json(f"/devices/{device_id}")
        return body if status == 200 else None

    def redis(self, **kwargs):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.resp_port, socket_timeout=30, **kwargs)


class WorkDir:
    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix=f"devstate-{name}-")

    def cleanup(self):
        if os.environ.get("DEVSTATE_KEEP_WORK"):  # post-mortem: logs and stores stay
            print(f"kept {self.path}", file=sys.stderr)
            return
        shutil.rmtree(self.path, ignore_errors=True)


def raw_exchange(port, data, timeout=5.0):
    """Sends bytes on a fresh connection and reads until the server closes or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


class Raw:
    """A RESP2 connection that returns each reply as the exact bytes the server sent."""

    def __init__(self, port, source=None, timeout=10):
        """`source`: a loopback address to connect from (127.0.0.2, ...), as another host."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line(self, at):
        while True:
            end = self.buf.find(b"\r\n", at)
            if end >= 0:
                return end
            self._fill()

    def _reply_end(self, at):
        end = self._line(at)
        kind, head = self.buf[at:at + 1], self.buf[at + 1:end]
        if kind in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
            return end + 2
        if kind in (b"$", b"=", b"!"):
            n = int(head)
            if n < 0:
                return end + 2
            while len(self.buf) < end + 2 + n + 2:
                self._fill()
            return end + 2 + n + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(head)
            if kind in (b"%", b"|"):
                n *= 2
            at = end + 2
            for _ in range(max(n, 0)):
                at = self._reply_end(at)
            return at
        raise ValueError(f"unexpected reply {self.buf[at:end]!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()

    def send(self, *args):
        """Sends one command without waiting for its reply (a blocking command's)."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def read(self):
        """The next reply (or push) on the connection, without sending anything."""
        end = self._reply_end(0)
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply


class Proxy:
    """A TCP proxy on a free loopback port to 127.0.0.1:target, which the test can cut:
    `blackhole()` keeps the connections open but drops every byte both ways (a link that
    went silent, as a partition looks to both ends), `heal()` forwards again, closing the
    connections that lost bytes so both ends see the break."""

    def __init__(self, target):
        import threading
        self.target = target
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.dropping = False
        self.pairs = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not self.dropping:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def blackhole(self):
        self.dropping = True

    def heal(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self.dropping = False

    def close(self):
        self.closed = True
        self.listener.close()
        self.heal()


class Node(Devstate):
    """A devstate node of a replicated shard, in its own directory under `workdir`."""

    def __init__(self, workdir, name, args=(), broker=None):
        path = os.path.join(workdir, name)
        os.makedirs(path, exist_ok=True)
        self.name = name
        super().__init__(path, broker=broker, args=args)

    def info_replication(self):
        raw = Raw(self.resp_port)
        try:
            reply = raw.call("INFO", "replication")
        finally:
            raw.close()
        out = {}
        for line in reply.split(b"\r\n", 1)[1].decode().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def digest(self):
        return self.redis().execute_command("DEBUG", "DIGEST").decode()

    def wait_link_up(self, timeout=30):
        wait_until(lambda: self.info_replication().get("master_link_status") == "up", timeout,
                   f"{self.name}'s link to its primary")

    def wait_replicas(self, n, timeout=30):
        wait_until(lambda: sum("phase=online" in v for k, v in self.info_replication().items()
                               if k.startswith("slave")) >= n, timeout,
                   f"{n} replicas streaming from {self.name}")
