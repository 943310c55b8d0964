"""Automatic failover under faults (DESIGN.md §5, docs/FAILOVER.md): the proof.

A shard of 3 devstate nodes, 3 etcd members and a Mosquitto broker. Every node and every
etcd member runs in its own network namespace (netns.py), clients in the root namespace:
RESP writers through redis-py's RedisCluster (retries on), HTTP writers that follow 307,
and MQTT QoS 1 publishers. Every write is unique and logged with its outcome (ok, failed,
unknown) and its times. One fault per round, from a seeded schedule; then the cut heals,
dead processes restart, and the checker asserts:
  - every acknowledged write is present with its value (none is ever overwritten);
  - no key appears that nobody wrote;
  - the nodes converge to one digest;
  - no node acknowledged a write it began handling after a newer epoch began elsewhere;
and reports each failover's write-unavailability window (fault -> first acknowledged
write on the new primary). A negative control deletes an acknowledged write and plants one
nobody wrote, and the checker must report both.

As root (CI is): /usr/bin/python3 tests/integration/failover_test.py [FailoverTest.test_x]
Long runs: /usr/bin/python3 tests/integration/failover_test.py --rounds 100 --seed 7
"""
import argparse
import http.client
import json
import logging
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, ROOT, wait_until  # noqa: E402
import netns  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402
import redis  # noqa: E402
from redis.cluster import ClusterNode, RedisCluster  # noqa: E402

# redis-py's cluster client logs every retried error with its traceback: expected here.
logging.getLogger("redis.cluster").setLevel(logging.CRITICAL)

RESP_PORT = 6379
HTTP_PORT = 8080
LEASE_MS = 2000
# etcd's defaults, spelled out because a bound below depends on them.
ETCD_HEARTBEAT_MS = 100
ETCD_ELECTION_MS = 1000
FAULTS = ["kill9_primary", "sigstop_primary", "partition_primary", "partition_replica",
          "kill9_rejoining_replica", "double_failover", "kill_etcd_member"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tcp_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- the processes -----------------------------------------------------------------------

class Etcd:
    def __init__(self, net, workdir, names):
        self.net = net
        self.names = names
        self.ips = {n: net.add(n, 20 + i) for i, n in enumerate(names, 1)}
        self.cluster = ",".join(f"{n}=http://{ip}:2380" for n, ip in self.ips.items())
        self.dirs = {n: os.path.join(workdir, n) for n in names}
        self.procs = {}
        self.logs = {}
        for n in names:
            self.start(n)
        for n in names:
            wait_until(lambda n=n: tcp_open(self.ips[n], 2379), 30, f"etcd {n}")

    @property
    def endpoints(self):
        return ",".join(f"http://{ip}:2379" for ip in self.ips.values())

    def start(self, name):
        ip = self.ips[name]
        self.logs[name] = open(self.dirs[name] + ".log", "a")
        self.procs[name] = self.net.popen(name, [
            "etcd", "--name", name, "--data-dir", self.dirs[name],
            "--listen-client-urls", f"http://{ip}:2379", "--advertise-client-urls",
            f"http://{ip}:2379", "--listen-peer-urls", f"http://{ip}:2380",
            "--initial-advertise-peer-urls", f"http://{ip}:2380", "--initial-cluster",
            self.cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "ds",
            "--heartbeat-interval", str(ETCD_HEARTBEAT_MS),
            "--election-timeout", str(ETCD_ELECTION_MS)],
            stdout=self.logs[name], stderr=subprocess.STDOUT)

    def kill9(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)
        self.logs[name].close()

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        for log in self.logs.values():
            log.close()


class ShardNode:
    def __init__(self, net, workdir, name, host, etcd, broker):
        self.net, self.name = net, name
        self.ip = net.add(name, host)
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.args = [BIN, f"--store.dir={self.dir}/store", f"--resp.bind={self.ip}",
                     f"--resp.port={RESP_PORT}", f"--http.bind={self.ip}",
                     f"--http.port={HTTP_PORT}", f"--replication.etcd={etcd}",
                     f"--replication.announce={self.ip}", f"--replication.lease_ms={LEASE_MS}",
                     "--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=3000",
                     f"--mqtt.broker={broker}", "--mqtt.client_id=devstate-failover",
                     "--mqtt.reconnect_max_ms=500",
                     f"--log.level={os.environ.get('FAILOVER_LOG_LEVEL', 'info')}"]
        self.proc = None
        self.stopped = False
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "devstate.log"), "a")
        self.proc = self.net.popen(self.name, self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.stopped = False
        wait_until(lambda: self.proc.poll() is None and tcp_open(self.ip, RESP_PORT), 30,
                   f"{self.name} RESP port")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.alive():
            if self.stopped:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def client(self, timeout=2):
        return redis.Redis(host=self.ip, port=RESP_PORT, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def info(self):
        """INFO replication as a dict of strings ({} if the node does not answer)."""
        try:
            with socket.create_connection((self.ip, RESP_PORT), timeout=2) as s:
                s.sendall(b"INFO replication\r\n")
                data = b""
                while b"\r\n" not in data or len(data) < int(data[1:data.index(b"\r\n")]) + 5:
                    chunk = s.recv(65536)
                    if not chunk:
                        return {}
                    data += chunk
                    if data.startswith(b"-"):
                        return {}
        except (OSError, ValueError):
            return {}
        out = {}
        for line in data.split(b"\r\n", 1)[1].decode().splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def log_text(self):
        with open(os.path.join(self.dir, "devstate.log")) as f:
            return f.read()


class Mosquitto:
    def __init__(self, workdir, bind):
        self.dir = os.path.join(workdir, "mosquitto")
        os.makedirs(self.dir, exist_ok=True)
        with socket.socket() as s:
            s.bind((bind, 0))
            self.port = s.getsockname()[1]
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} {bind}\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {self.dir}/\nmax_inflight_messages 0\n"
                    "max_queued_messages 1000000\nuser root\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.bind = bind
        wait_until(lambda: tcp_open(bind, self.port), 10, "mosquitto")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


# --- the clients -------------------------------------------------------------------------

class Ledger:
    """Every write: (kind, key, value, invoked, done, outcome, node). Times are wall-clock
    seconds (comparable with the nodes' log lines)."""

    def __init__(self):
        self.mu = threading.Lock()
        self.entries = []

    def add(self, kind, key, value, invoked, done, outcome, node=None):
        with self.mu:
            self.entries.append((kind, key, value, invoked, done, outcome, node))

    def ok(self, kind=None):
        with self.mu:
            return [e for e in self.entries if e[5] == "ok" and (kind is None or e[0] == kind)]

    def invoked_keys(self):
        with self.mu:
            return {e[1] for e in self.entries}

    def first_ok_after(self, t, exclude_node=None):
        with self.mu:
            times = [e[4] for e in self.entries if e[5] == "ok" and e[3] >= t
                     and e[6] is not None and e[6] != exclude_node]
        return min(times) if times else None


class Workload:
    """Writers and publishers on threads until stopped."""

    def __init__(self, nodes, broker, ledger, tag):
        self.nodes, self.broker, self.ledger, self.tag = nodes, broker, ledger, tag
        self.stop_flag = threading.Event()
        self.counter = 0
        self.mu = threading.Lock()
        self.threads = [threading.Thread(target=self.resp_writer, args=(i,), daemon=True)
                        for i in range(2)]
        self.threads.append(threading.Thread(target=self.http_writer, daemon=True))
        self.threads.append(threading.Thread(target=self.mqtt_publisher, daemon=True))
        for t in self.threads:
            t.start()

    def next_id(self):
        with self.mu:
            self.counter += 1
            return self.counter

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)

    def resp_writer(self, i):
        rc = None
        while not self.stop_flag.is_set():
            if rc is None:
                try:
                    rc = RedisCluster(startup_nodes=[ClusterNode(n.ip, RESP_PORT) for n in self.nodes],
                                      socket_timeout=2, socket_connect_timeout=1,
                                      cluster_error_retry_attempts=5)
                except Exception:  # noqa: BLE001 - no node reachable yet
                    time.sleep(0.2)
                    continue
            n = self.next_id()
            key, value = f"fo:{self.tag}:r{i}:{n}", f"v{n}"
            invoked = time.time()
            try:
                node = None
                ok = rc.set(key, value)
                try:
                    node = rc.get_node_from_key(key).host
                except Exception:  # noqa: BLE001
                    pass
                self.ledger.add("resp", key, value, invoked, time.time(), "ok" if ok else "unknown",
                                node)
            except redis.exceptions.ResponseError as e:
                # Refused before it ran: never executed. Anything else: unknown.
                refused = str(e).startswith(("CLUSTERDOWN", "READONLY", "MOVED"))
                self.ledger.add("resp", key, value, invoked, time.time(),
                                "failed" if refused else "unknown")
                time.sleep(0.05)
            except Exception:  # noqa: BLE001 - connection errors: outcome unknown
                self.ledger.add("resp", key, value, invoked, time.time(), "unknown")
                try:
                    rc.close()
                except Exception:  # noqa: BLE001
                    pass
                rc = None
                time.sleep(0.05)

    def http_writer(self):
        at = 0
        conns = {}  # host -> a kept-alive connection

        def post(host, path, body):
            c = conns.get(host)
            if c is None:
                c = conns[host] = http.client.HTTPConnection(host, HTTP_PORT, timeout=2)
            try:
                c.request("POST", path, body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                return r
            except (OSError, http.client.HTTPException):
                c.close()
                del conns[host]
                raise OSError("request failed")

        while not self.stop_flag.is_set():
            n = self.next_id()
            device = f"h{self.tag}x{n}"
            body = json.dumps({"seq": n})
            invoked = time.time()
            host = self.nodes[at % len(self.nodes)].ip
            outcome = "unknown"
            for _ in range(3):
                try:
                    r = post(host, f"/devices/{device}", body)
                    location = r.getheader("Location")
                except OSError:
                    outcome = "unknown"
                    break
                if r.status == 307 and location:
                    host = location.split("//", 1)[1].split(":", 1)[0]
                    continue
                outcome = "ok" if 200 <= r.status < 300 else (
                    "failed" if r.status in (307, 503) else "unknown")
                break
            self.ledger.add("http", device, n, invoked, time.time(), outcome, host)
            if outcome != "ok":
                at += 1
                time.sleep(0.05)
            else:
                at = [x.ip for x in self.nodes].index(host) if host in [x.ip for x in self.nodes] else at

    def mqtt_publisher(self):
        c = mqtt.Client(client_id=f"fo-pub-{self.tag}", clean_session=True)
        c.connect(self.broker.bind, self.broker.port)
        c.loop_start()
        try:
            while not self.stop_flag.is_set():
                n = self.next_id()
                device = f"m{self.tag}x{n}"
                invoked = time.time()
                info = c.publish(f"devices/{device}/state", json.dumps({"seq": n}), qos=1)
                try:
                    info.wait_for_publish(5)
                    ok = info.is_published()
                except (RuntimeError, ValueError):
                    ok = False
                # Acknowledged by the broker: devstate must take it in, sooner or later.
                self.ledger.add("mqtt", device, n, invoked, time.time(), "ok" if ok else "unknown")
                time.sleep(0.02)
        finally:
            c.loop_stop()
            c.disconnect()


# --- the shard ---------------------------------------------------------------------------

class Shard:
    def __init__(self, workdir):
        self.workdir = workdir
        self.net = netns.Net()
        try:
            self.etcd = Etcd(self.net, workdir, ["e1", "e2", "e3"])
            self.broker = Mosquitto(workdir, self.net.gateway)
            self.nodes = [ShardNode(self.net, workdir, f"n{i}", 10 + i, self.etcd.endpoints,
                                    f"tcp://{self.net.gateway}:{self.broker.port}")
                          for i in (1, 2, 3)]
        except Exception:
            self.close()
            raise

    def close(self):
        for n in getattr(self, "nodes", []):
            n.stop()
        if getattr(self, "broker", None) is not None:
            self.broker.stop()
        if hasattr(self, "etcd"):
            self.etcd.stop()
        self.net.heal()
        self.net.close()

    def primary(self, among=None):
        """The node that says it is primary and takes a write, or None."""
        for n in among or self.nodes:
            if not n.alive() or n.stopped:
                continue
            if n.info().get("role") == "master":
                try:
                    if n.client().set("fo:probe", "1"):
                        return n
                except redis.exceptions.RedisError:
                    pass
        return None

    primary_timeout = 30

    def wait_primary(self, among=None, timeout=None):
        """The primary, once one takes a write; found_at is when it first did."""
        timeout = timeout or self.primary_timeout
        found = []
        wait_until(lambda: found.append(self.primary(among)) or found[-1] is not None, timeout,
                   "a primary that takes writes")
        self.found_at = time.time()
        return found[-1]

    def wait_healthy(self, timeout=90, converge=False):
        """Every node up, one primary, both replicas in its synchronous set; with `converge`
        (no writers running), equal digests on all nodes."""
        found = []

        def settled():
            p = self.primary()
            found.append(p)
            if p is None:
                return False
            info = p.info()
            members = [m for m in info.get("sync_set", "").split(",") if m]
            return info.get("role") == "master" and len(members) == 2 and all(
                n is p or n.info().get("master_link_status") == "up" for n in self.nodes)
        wait_until(settled, timeout, "a primary with both replicas in its synchronous set")
        p = found[-1]
        if not converge:
            return p

        def converged():
            try:
                p.client().set("fo:probe", str(time.time()))
                digests = {n.client(10).execute_command("DEBUG", "DIGEST") for n in self.nodes}
                return len(digests) == 1
            except redis.exceptions.RedisError:
                return False
        wait_until(converged, timeout, "equal digests on all nodes")
        return p

    def epochs_from_logs(self):
        """[(wall time, node ip, epoch)] of every promotion, from the nodes' logs."""
        out = []
        for n in self.nodes:
            for line in n.log_text().splitlines():
                if "control: this node leads shard" not in line:
                    continue
                stamp = line.split(" ", 1)[0]
                t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + \
                    float("0" + stamp[19:])
                epoch = int(line.rsplit("epoch ", 1)[1].split(")", 1)[0])
                out.append((t, n.ip, epoch))
        return sorted(out)


# --- the peer: redis-server x3 + redis-sentinel x3 (the negative control's long run) ---------

class RedisNode:
    """redis-server with appendfsync always, in its own namespace; n1 starts as master."""

    def __init__(self, net, workdir, name, host, master_ip):
        self.net, self.name = net, name
        self.ip = net.add(name, host)
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "store"), exist_ok=True)
        # A config file, so the role Sentinel gives the node (CONFIG REWRITE) survives a restart,
        # as in any real deployment.
        conf = os.path.join(self.dir, "redis.conf")
        with open(conf, "w") as f:
            f.write(f"bind {self.ip}\nport {RESP_PORT}\ndir {os.path.join(self.dir, 'store')}\n"
                    "appendonly yes\nappendfsync always\nsave \"\"\nprotected-mode no\n"
                    "enable-debug-command yes\n")
            if master_ip != self.ip:
                f.write(f"replicaof {master_ip} {RESP_PORT}\n")
        self.args = ["redis-server", conf]
        self.proc = None
        self.stopped = False
        self.start()

    def start(self):
        os.makedirs(os.path.join(self.dir, "store"), exist_ok=True)
        ShardNode.start(self)

    alive = ShardNode.alive
    kill9 = ShardNode.kill9
    stop = ShardNode.stop
    client = ShardNode.client
    info = ShardNode.info

    def log_text(self):
        return ""


class Sentinels:
    """redis-sentinel x3 (quorum 2), each in its own namespace: Redis's way to fail over."""

    def __init__(self, net, workdir, names, master_ip):
        self.net, self.names = net, names
        self.ips = {n: net.add(n, 20 + i) for i, n in enumerate(names, 1)}
        self.dirs = {n: os.path.join(workdir, n) for n in names}
        self.procs, self.logs = {}, {}
        for n in names:
            os.makedirs(self.dirs[n], exist_ok=True)
            with open(os.path.join(self.dirs[n], "sentinel.conf"), "w") as f:
                f.write(f"bind {self.ips[n]}\nport 26379\nprotected-mode no\n"
                        f"dir {self.dirs[n]}\n"
                        f"sentinel monitor mymaster {master_ip} {RESP_PORT} 2\n"
                        f"sentinel down-after-milliseconds mymaster {LEASE_MS}\n"
                        "sentinel failover-timeout mymaster 5000\n"
                        "sentinel parallel-syncs mymaster 1\n")
            self.start(n)
        for n in names:
            wait_until(lambda n=n: tcp_open(self.ips[n], 26379), 20, f"sentinel {n}")

    def start(self, name):
        self.logs[name] = open(self.dirs[name] + ".log", "a")
        self.procs[name] = self.net.popen(
            name, ["redis-sentinel", os.path.join(self.dirs[name], "sentinel.conf")],
            stdout=self.logs[name], stderr=subprocess.STDOUT)

    kill9 = Etcd.kill9
    stop = Etcd.stop

    @property
    def addresses(self):
        return [(ip, 26379) for ip in self.ips.values()]


class RedisShard(Shard):
    fences = False  # a cut-off Redis master goes on taking writes: that is what is measured
    primary_timeout = 90  # Sentinel waits 2 x failover-timeout before failing over again

    def __init__(self, workdir):
        self.workdir = workdir
        self.net = netns.Net()
        self.broker = None
        try:
            master_ip = self.net.prefix + "11"
            self.nodes = [RedisNode(self.net, workdir, f"n{i}", 10 + i, master_ip)
                          for i in (1, 2, 3)]
            self.etcd = Sentinels(self.net, workdir, ["e1", "e2", "e3"], master_ip)
        except Exception:
            self.close()
            raise

    def wait_healthy(self, timeout=90, converge=False):
        found = []

        def settled():
            p = self.primary()
            found.append(p)
            return p is not None and p.info().get("connected_slaves") == "2" and all(
                n is p or n.info().get("master_link_status") == "up" for n in self.nodes)
        wait_until(settled, timeout, "a master with both replicas streaming")
        p = found[-1]
        if converge:
            def converged():
                try:
                    p.client().set("fo:probe", str(time.time()))
                    p.client().execute_command("WAIT", 2, 2000)
                    return len({n.client(10).execute_command("DEBUG", "DIGEST")
                                for n in self.nodes}) == 1
                except redis.exceptions.RedisError:
                    return False
            wait_until(converged, timeout, "equal digests on all nodes")
        return p

    def epochs_from_logs(self):
        return []


class RedisWorkload(Workload):
    """RESP writers through Sentinel: SET, then WAIT 1 (an acknowledgement is OK + WAIT >= 1)."""

    def __init__(self, shard, ledger, tag):
        self.shard, self.ledger, self.tag = shard, ledger, tag
        self.stop_flag = threading.Event()
        self.counter = 0
        self.mu = threading.Lock()
        self.threads = [threading.Thread(target=self.sentinel_writer, args=(i,), daemon=True)
                        for i in range(2)]
        for t in self.threads:
            t.start()

    def sentinel_writer(self, i):
        from redis.sentinel import Sentinel
        sentinel = Sentinel(self.shard.etcd.addresses, socket_timeout=1)
        master = None
        while not self.stop_flag.is_set():
            n = self.next_id()
            key, value = f"fo:{self.tag}:r{i}:{n}", f"v{n}"
            invoked = time.time()
            try:
                if master is None:
                    master = sentinel.master_for("mymaster", socket_timeout=2)
                ok = master.set(key, value) and master.execute_command("WAIT", 1, 1000) >= 1
                node = master.connection_pool.connection_kwargs.get("host")
                self.ledger.add("resp", key, value, invoked, time.time(),
                                "ok" if ok else "unknown", node)
            except Exception:  # noqa: BLE001
                self.ledger.add("resp", key, value, invoked, time.time(), "unknown")
                master = None
                time.sleep(0.05)


# --- faults ------------------------------------------------------------------------------

class Faults:
    def __init__(self, shard, rng):
        self.shard, self.rng = shard, rng
        self.lease = LEASE_MS / 1000

    def others(self, node):
        return [n for n in self.shard.nodes if n is not node]

    def kill9_primary(self, p):
        self.shard.net.link(p.name, False)
        p.kill9()
        new = self.shard.wait_primary(self.others(p))
        self.shard.net.link(p.name, True)
        p.start()
        return new

    def sigstop_primary(self, p):
        p.proc.send_signal(signal.SIGSTOP)
        p.stopped = True
        new = self.shard.wait_primary(self.others(p))
        time.sleep(self.rng.uniform(0, self.lease))  # resumes at a random point after
        p.proc.send_signal(signal.SIGCONT)
        p.stopped = False
        return new

    def partition_primary(self, p):
        rest = [n.name for n in self.others(p)] + self.shard.etcd.names
        self.shard.net.cut([p.name], rest)
        new = self.shard.wait_primary(self.others(p))
        # The old primary still reaches the clients: it must refuse them.
        try:
            p.client().set("fo:cutoff", "1")
            refused = None
        except redis.exceptions.RedisError as e:
            refused = str(e)
        self.shard.net.heal()
        if refused is None and getattr(self.shard, "fences", True):
            raise AssertionError("a primary cut off from etcd and its replicas took a write")
        return new

    def partition_replica(self, p):
        r = self.rng.choice(self.others(p))
        rest = [n.name for n in self.others(r)] + self.shard.etcd.names
        self.shard.net.cut([r.name], rest)
        time.sleep(self.lease * 1.5)
        still = self.shard.wait_primary(timeout=30)  # writes go on without it
        self.shard.net.heal()
        return still

    def kill9_rejoining_replica(self, p):
        r = self.rng.choice(self.others(p))
        r.kill9()
        shutil.rmtree(os.path.join(r.dir, "store"), ignore_errors=True)
        r.start()  # empty: a full copy begins
        time.sleep(self.rng.uniform(0.05, 0.5))
        r.kill9()
        r.start()
        return self.shard.wait_primary(timeout=30)

    def double_failover(self, p):
        p.kill9()
        second = self.shard.wait_primary(self.others(p))
        second.kill9()
        p.start()  # someone must be back for the last one to have a replica
        third = self.shard.wait_primary([n for n in self.shard.nodes if n is not second])
        second.start()
        return third

    def kill_etcd_member(self, p):
        victim = self.rng.choice(self.shard.etcd.names)
        self.shard.etcd.kill9(victim)
        time.sleep(self.lease * 1.5)
        still = self.shard.wait_primary(timeout=30)
        self.shard.etcd.start(victim)
        return still


# --- the checker -------------------------------------------------------------------------

def check(shard, ledger, tag):
    """Returns a dict of problems found (empty lists when all holds). Writers have stopped."""
    p = shard.wait_healthy(converge=True)
    problems = {"lost": [], "phantom": [], "late_ack": []}
    c = p.client(10)
    resp_ok = ledger.ok("resp")
    for at in range(0, len(resp_ok), 500):
        chunk = resp_ok[at:at + 500]
        pipe = c.pipeline(transaction=False)
        for e in chunk:
            pipe.get(e[1])
        values = pipe.execute()
        problems["lost"] += [e[1] for e, v in zip(chunk, values)
                             if v is None or v.decode() != e[2]]

    conn = http.client.HTTPConnection(p.ip, HTTP_PORT, timeout=5)  # kept alive, if used

    def device_seq(device):
        conn.request("GET", f"/devices/{device}")
        r = conn.getresponse()
        body = r.read()
        return json.loads(body).get("seq") if r.status == 200 else None

    for e in ledger.ok("http"):
        if device_seq(e[1]) != e[2]:
            problems["lost"].append(e[1])
    # The broker holds what no primary has taken in yet: wait for the backlog to drain.
    pending = [e for e in ledger.ok("mqtt")]
    deadline = time.time() + 30
    while pending and time.time() < deadline:
        pending = [e for e in pending if device_seq(e[1]) != e[2]]
        if pending:
            time.sleep(0.5)
    problems["lost"] += [e[1] for e in pending]

    invoked = ledger.invoked_keys()
    cursor = 0
    while True:
        cursor, keys = c.scan(cursor, match=f"*{tag}*", count=1000)
        for k in keys:
            k = k.decode()
            name = k.split(":")[1] if k.startswith("device:") else k
            if name not in invoked:
                problems["phantom"].append(k)
        if cursor == 0:
            break

    # An acknowledgement by a node whose epoch was already superseded when the write began.
    epochs = shard.epochs_from_logs()
    for e in ledger.ok():
        node, invoked_at, done_at = e[6], e[3], e[4]
        if node is None:
            continue
        mine = [ep for t, ip, ep in epochs if ip == node and t <= done_at]
        if not mine:
            continue
        newer = [t for t, ip, ep in epochs if ip != node and ep > mine[-1] and t < invoked_at]
        if newer:
            problems["late_ack"].append(e[1])
    return problems


def run_rounds(rounds, seed, workdir, target="devstate"):
    rng = random.Random(seed)
    schedule = [FAULTS[i % len(FAULTS)] for i in range(rounds)]
    rng.shuffle(schedule)
    log(f"{rounds} rounds against {target}, seed {seed} (--seed {seed} repeats the schedule)")
    shard = Shard(workdir) if target == "devstate" else RedisShard(workdir)
    ledger = Ledger()
    tag = f"{seed}"
    report = []
    try:
        shard.wait_healthy()
        faults = Faults(shard, rng)
        workload = (Workload(shard.nodes, shard.broker, ledger, tag) if target == "devstate"
                    else RedisWorkload(shard, ledger, tag))
        try:
            for i, fault in enumerate(schedule, 1):
                time.sleep(rng.uniform(0.5, 1.5))
                p = shard.wait_primary()
                t0 = time.time()
                log(f"round {i}/{rounds}: {fault} (primary {p.name})")
                shard.found_at = None
                new = getattr(faults, fault)(p)
                # The first write acknowledged after the fault by a node that may take them:
                # a client's, or the harness's own probe that found the primary.
                first = [t for t in (ledger.first_ok_after(t0, p.ip if new is not p else None),
                                     shard.found_at) if t is not None]
                window = (min(first) - t0) if first else None
                report.append((fault, p.name, new.name, window))
                shard.wait_healthy()
                log(f"round {i}: new primary {new.name}; writes back after "
                    f"{'-' if window is None else f'{window:.2f} s'}")
        finally:
            workload.stop()
        problems = check(shard, ledger, tag)
        return shard, ledger, report, problems
    except Exception:
        shard.close()
        raise


def summarize(report, ledger, problems):
    lines = ["| fault | rounds | unavailability p50 (s) | max (s) |", "|---|---|---|---|"]
    for fault in FAULTS:
        w = [r[3] for r in report if r[0] == fault and r[3] is not None]
        if any(r[0] == fault for r in report):
            lines.append(f"| {fault} | {sum(r[0] == fault for r in report)} | "
                         f"{statistics.median(w):.2f} | {max(w):.2f} |" if w else
                         f"| {fault} | {sum(r[0] == fault for r in report)} | - | - |")
    counts = {}
    for e in ledger.entries:
        counts[(e[0], e[5])] = counts.get((e[0], e[5]), 0) + 1
    lines.append("")
    lines.append("writes: " + ", ".join(f"{k[0]} {k[1]} {v}" for k, v in sorted(counts.items())))
    lines.append(f"lost {len(problems['lost'])}, phantom {len(problems['phantom'])}, "
                 f"acknowledged after a newer epoch {len(problems['late_ack'])}")
    return "\n".join(lines)


class FailoverTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(netns.available(), "the failover test needs root and `ip netns`")
        self.workdir = tempfile.mkdtemp(prefix="devstate-failover-")

    def tearDown(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def test_ten_rounds_of_faults_lose_no_acknowledged_write(self):
        rounds = int(os.environ.get("FAILOVER_ROUNDS", "10"))
        shard, ledger, report, problems = run_rounds(rounds, seed=int(time.time()) % 1000,
                                                     workdir=self.workdir)
        try:
            log("\n" + summarize(report, ledger, problems))
            self.assertGreater(len(ledger.ok("resp")), 100)
            self.assertGreater(len(ledger.ok("http")), 10)
            self.assertGreater(len(ledger.ok("mqtt")), 10)
            self.assertEqual(problems, {"lost": [], "phantom": [], "late_ack": []})
            for fault, old, new, window in report:
                self.assertIsNotNone(window, f"no write was acknowledged after {fault}")
                self.assertLess(window, 30, f"{fault}: writes were unavailable for {window:.1f} s")

            # Negative control: the checker must catch a lost write and a phantom one.
            p = shard.primary()
            lost_key = ledger.ok("resp")[-1][1]
            p.client().delete(lost_key)
            p.client().set(f"fo:{ledger.ok('resp')[0][1].split(':')[1]}:planted", "x")
            caught = check(shard, ledger, ledger.ok("resp")[0][1].split(":")[1])
            self.assertEqual(caught["lost"], [lost_key])
            self.assertEqual(len(caught["phantom"]), 1)
        finally:
            shard.close()


class EtcdOutageTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(netns.available(), "the failover test needs root and `ip netns`")
        self.workdir = tempfile.mkdtemp(prefix="devstate-failover-")

    def tearDown(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def test_without_an_etcd_majority_the_primary_stops_and_replicas_serve_reads(self):
        shard = Shard(self.workdir)
        try:
            p = shard.wait_healthy()
            p.client().set("before", "1")
            t0 = time.monotonic()
            for name in ("e1", "e2"):
                shard.etcd.kill9(name)

            def refused():
                try:
                    p.client().set("during", "1")
                    return False
                except redis.exceptions.RedisError as e:
                    return "lease" in str(e)
            wait_until(refused, LEASE_MS / 1000 + 5, "the primary to refuse writes")
            took = time.monotonic() - t0
            # The surviving member, if it leads, goes on renewing leases on its own until its
            # quorum check notices the lost majority: between one and two election timeouts.
            # Those renewals are real (a new leader extends every lease when it takes over),
            # so the last one can come that late, and the fence then runs one lease from it.
            # One more second covers the polling and the client's connection.
            could_lapse = (LEASE_MS + 2 * ETCD_ELECTION_MS) / 1000
            self.assertLess(took, could_lapse + 1,
                            "a primary stops by the time its lease could have lapsed")
            with self.assertRaises(redis.exceptions.RedisError) as e:
                p.client().get("before")
            self.assertIn("lease", str(e.exception), "no stale read from a primary without lease")
            conn = http.client.HTTPConnection(p.ip, HTTP_PORT, timeout=5)
            conn.request("GET", "/readyz")
            r = conn.getresponse()
            body = r.read().decode()
            self.assertEqual(r.status, 503)
            self.assertIn("lease", body)
            self.assertNotEqual(p.info().get("etcd_error", ""), "")
            for n in shard.nodes:
                if n is not p:
                    self.assertEqual(n.client().get("before"), b"1", "replicas keep serving reads")
            # etcd is back: a primary takes writes again, without losing what it had.
            for name in ("e1", "e2"):
                shard.etcd.start(name)
            q = shard.wait_primary(timeout=60)
            self.assertTrue(q.client().set("after", "1"))
            self.assertEqual(q.client().get("before"), b"1")
        finally:
            shard.close()


class EtcdAuthTest(unittest.TestCase):
    """The etcd client with etcd's authentication: the right password leads, a wrong one
    leaves the node undecided and saying why (on loopback, no namespaces needed)."""

    def setUp(self):
        from harness import free_port
        self.workdir = tempfile.mkdtemp(prefix="devstate-etcd-auth-")
        self.port, peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.workdir, "etcd.log"), "w")
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "a", "--data-dir", os.path.join(self.workdir, "etcd"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls",
             f"http://127.0.0.1:{peer}", "--initial-cluster", f"a=http://127.0.0.1:{peer}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: tcp_open("127.0.0.1", self.port), 20, "etcd")
        env = dict(os.environ, ETCDCTL_API="3")
        for cmd in (["user", "add", "root:rootpw"], ["user", "add", "devstate:s3cret"],
                    ["role", "add", "shard"],
                    ["role", "grant-permission", "shard", "--prefix=true", "readwrite",
                     "/devstate/"],
                    ["user", "grant-role", "devstate", "shard"], ["auth", "enable"]):
            subprocess.run(["etcdctl", f"--endpoints={self.url}", *cmd], env=env, check=True,
                           capture_output=True)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.stop()
        self.etcd.terminate()
        self.etcd.wait(10)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def node(self, name, password):
        from harness import Node
        secret = os.path.join(self.workdir, name + ".pw")
        with open(secret, "w") as f:
            f.write(password + "\n")
        n = Node(self.workdir, name, args=[f"--replication.etcd={self.url}",
                                            "--replication.etcd_user=devstate",
                                            f"--replication.etcd_password_file={secret}",
                                            f"--replication.lease_ms={LEASE_MS}"])
        self.nodes.append(n)
        return n

    def test_the_right_password_leads_and_a_wrong_one_says_why(self):
        good = self.node("good", "s3cret")
        wait_until(lambda: good.info_replication().get("role") == "master", 20,
                   "the node with the right password to lead")
        self.assertTrue(good.redis().set("k", "v"))
        bad = self.node("bad", "wrong")
        wait_until(lambda: "authentication" in bad.info_replication().get("etcd_error", ""), 20,
                   "the wrong password to show in INFO")
        self.assertEqual(bad.info_replication().get("role"), "slave")
        self.assertEqual(bad.info_replication().get("leader_node_id", ""), "",
                         "it cannot even read the shard's keys")


class EtcdTlsTest(unittest.TestCase):
    """https:// etcd endpoints: verified against tls.ca; one signed by another CA is refused."""

    def setUp(self):
        from harness import free_port
        from security_test import make_certs
        self.workdir = tempfile.mkdtemp(prefix="devstate-etcd-tls-")
        certs_dir = os.path.join(self.workdir, "certs")
        os.makedirs(certs_dir)
        self.certs = make_certs(certs_dir)
        self.port, peer = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.workdir, "etcd.log"), "w")
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "a", "--data-dir", os.path.join(self.workdir, "etcd"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--cert-file", self.certs["server.pem"], "--key-file", self.certs["server.key"],
             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls",
             f"http://127.0.0.1:{peer}", "--initial-cluster", f"a=http://127.0.0.1:{peer}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: tcp_open("127.0.0.1", self.port), 20, "etcd")
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.stop()
        self.etcd.terminate()
        self.etcd.wait(10)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def node(self, name, ca):
        from harness import Node
        n = Node(self.workdir, name, args=[f"--replication.etcd={self.url}",
                                            "--replication.etcd_tls=true", f"--tls.ca={ca}",
                                            f"--replication.lease_ms={LEASE_MS}"])
        self.nodes.append(n)
        return n

    def test_a_verified_etcd_is_used_and_an_unverified_one_is_not(self):
        good = self.node("good", self.certs["ca.pem"])
        wait_until(lambda: good.info_replication().get("role") == "master", 20,
                   "the node that verifies etcd to lead")
        self.assertTrue(good.redis().set("k", "v"))
        bad = self.node("bad", self.certs["rogue-ca.pem"])
        wait_until(lambda: "TLS" in bad.info_replication().get("etcd_error", ""), 20,
                   "the failed verification to show in INFO")
        self.assertEqual(bad.info_replication().get("leader_node_id", ""), "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", choices=["devstate", "redis"], default="devstate",
                        help="redis: redis-server x3 + redis-sentinel x3 with WAIT 1")
    args, rest = parser.parse_known_args()
    if rest or "--rounds" not in sys.argv:
        unittest.main(argv=[sys.argv[0], *rest])
        return
    workdir = tempfile.mkdtemp(prefix="devstate-failover-")
    shard, ledger, report, problems = run_rounds(args.rounds, args.seed, workdir, args.target)
    print(summarize(report, ledger, problems), flush=True)
    shard.close()
    shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if any(problems.values()) else 0)


if __name__ == "__main__":
    main()
