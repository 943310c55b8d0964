"""Replication (DESIGN.md §5, docs/REPLICATION.md): real devstate processes on loopback.

Each test starts its own shard (a primary and replicas, each in its own directory), drives
it with real clients (redis-py, HTTP, an MQTT publisher through Mosquitto), and checks the
claims of docs/REPLICATION.md: replicas end with the primary's content (DEBUG DIGEST), no
acknowledged write is lost when the primary dies or hands over, a write is visible only once
acknowledged, a divergent tail is dropped, a lagging or new replica catches up or is copied.
Run with /usr/bin/python3.
"""
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (EventStream, Mosquitto, Node, Proxy, Raw, WorkDir,  # noqa: E402
                     http_request, wait_until)

import redis  # noqa: E402


def replica_of(node):
    return f"--replication.replicaof=127.0.0.1:{node.resp_port}"


def promote(node):
    assert node.redis().execute_command("REPLICAOF", "NO", "ONE") in (b"OK", "OK", True)


def missing_keys(node, keys):
    """The keys among `keys` that `node` does not hold."""
    r = node.redis()
    missing = []
    for at in range(0, len(keys), 1000):
        chunk = keys[at:at + 1000]
        pipe = r.pipeline(transaction=False)
        for key in chunk:
            pipe.exists(key)
        missing += [key for key, n in zip(chunk, pipe.execute()) if n == 0]
    return missing


def wait_same_digest(nodes, timeout=60):
    def same():
        digests = {n.digest() for n in nodes}
        return len(digests) == 1
    wait_until(same, timeout, "equal digests on " + ", ".join(n.name for n in nodes))
    return nodes[0].digest()


class Writers:
    """Threads that SET unique keys on a node until stopped, keeping a ledger of the keys
    whose write was acknowledged (OK). A write that failed (an error, a dropped connection)
    is not in the ledger: its outcome is unknown."""

    def __init__(self, make_client, prefix, threads=4):
        self.ledger = []
        self.errors = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(make_client, f"{prefix}:{t}"))
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, make_client, prefix):
        client = None
        i = 0
        while not self.stop_flag.is_set():
            try:
                if client is None:
                    client = make_client()
                key = f"{prefix}:{i}"
                i += 1
                if client.set(key, f"v{i}"):
                    with self.lock:
                        self.ledger.append(key)
            except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException,
                    OSError):  # a cluster client refreshing its map mid-failover raises the latter
                with self.lock:
                    self.errors += 1
                client = None
                time.sleep(0.01)  # a dead node: do not spin

    def count(self):
        with self.lock:
            return len(self.ledger)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)
        return list(self.ledger)


class ReplicationTest(unittest.TestCase):
    def setUp(self):
        self.work = WorkDir("replication")
        self.nodes = []
        self.others = []

    def tearDown(self):
        for n in self.nodes:
            try:
                if n.proc.poll() is None:
                    os.kill(n.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            n.stop()
        for o in self.others:
            o.stop() if hasattr(o, "stop") else o.close()
        self.work.cleanup()

    def node(self, name, *args, broker=None):
        n = Node(self.work.path, name, args=args, broker=broker)
        self.nodes.append(n)
        return n

    def test_three_nodes_end_equal_after_writes_over_resp_http_and_mqtt(self):
        broker = Mosquitto(self.work.path)
        self.others.append(broker)
        p = self.node("p", "--replication.min_replicas_ack=1", broker=broker.uri)
        r1 = self.node("r1", replica_of(p), broker=broker.uri)
        r2 = self.node("r2", replica_of(p), broker=broker.uri)
        p.wait_replicas(2)
        r1.wait_link_up()
        r2.wait_link_up()

        # RESP: 60k SETs, pipelined.
        rc = p.redis()
        for batch in range(60):
            pipe = rc.pipeline(transaction=False)
            for i in range(1000):
                pipe.set(f"resp:{batch}:{i}", f"{batch}-{i}")
            self.assertTrue(all(pipe.execute()))
        # HTTP: 20k events in batches.
        for batch in range(40):
            events = [{"deviceId": f"h{batch}-{i}", "temperature": i, "ts": 1000 + i}
                      for i in range(500)]
            status, body = p.post_json("/events", events)
            self.assertEqual(status, 200, body)
        # MQTT: 20k events through the broker; only the primary subscribes.
        import paho.mqtt.client as mqtt
        pub = mqtt.Client(client_id="repl-pub", clean_session=True)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        infos = [pub.publish(f"devices/m{i}/state", json.dumps({"n": i, "ts": i}), qos=1)
                 for i in range(20000)]
        for info in infos:
            info.wait_for_publish(60)
        pub.loop_stop()
        pub.disconnect()
        wait_until(lambda: p.device("m19999") is not None and p.device("h39-499") is not None,
                   120, "every event on the primary")
        wait_until(lambda: all(p.device(f"m{i}") for i in range(0, 20000, 997)), 120,
                   "MQTT events on the primary")

        digest = wait_same_digest([p, r1, r2], 120)
        self.assertNotEqual(digest, "0" * 40)
        self.assertEqual(r1.redis().dbsize(), p.redis().dbsize())
        self.assertGreaterEqual(p.redis().dbsize(), 100000)
        # Replicas never subscribed: only the primary runs MQTT ingest.
        self.assertEqual(r1.get_json("/readyz")[1]["role"], "replica")

        # What clients see on a replica: reads served, writes sent to the primary.
        self.assertEqual(r1.redis().get("resp:3:7"), b"3-7")
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            r1.redis().set("x", "1")
        self.assertTrue(str(e.exception).startswith("MOVED"), e.exception)
        self.assertIn(f"127.0.0.1:{p.resp_port}", str(e.exception))
        status, headers, _ = r1.request("POST", "/devices/d1", json.dumps({"a": 1}),
                                        {"Content-Type": "application/json"})
        self.assertEqual(status, 307)
        self.assertEqual(headers["Location"], f"http://127.0.0.1:{p.http_port}/devices/d1")
        status, headers, _ = r1.get("/devices/h0-1")
        self.assertEqual(status, 200)
        self.assertGreater(int(headers["X-Devstate-Position"]), 0)
        # ROLE, INFO, CLUSTER: the primary, then its replicas, with stable ids.
        role = p.redis().execute_command("ROLE")
        self.assertEqual(role[0], b"master")
        self.assertEqual(len(role[2]), 2)
        slots = r1.redis().execute_command("CLUSTER", "SLOTS")
        self.assertEqual(slots[0][2][1], p.resp_port)
        self.assertEqual(slots[0][3][1], r1.resp_port)
        info = r1.info_replication()
        self.assertEqual(info["role"], "slave")
        self.assertEqual(info["master_link_status"], "up")
        self.assertEqual(int(info["slave_repl_offset"]), int(p.info_replication()["master_repl_offset"]))
        # WAIT counts replicas that hold this connection's writes.
        c = p.redis()
        c.set("waited", "1")
        self.assertEqual(c.execute_command("WAIT", 2, 5000), 2)
        self.assertEqual(c.execute_command("WAITAOF", 1, 2, 5000), [1, 2])

    def test_hashes_replicate_field_by_field_and_survive_restarts(self):
        """A hash travels as its changed fields: one HSET on a 10k-field hash is one journal
        position on the primary and on the replica. Replicas (live, from the log after a
        kill -9, and by full copy) and a restarted primary end with the same hashes, lists,
        sets, sorted sets and streams."""
        p = self.node("p", "--replication.min_replicas_ack=1")
        r1 = self.node("r1", replica_of(p))
        r2 = self.node("r2", replica_of(p))
        p.wait_replicas(2)
        c = p.redis()
        pipe = c.pipeline(transaction=False)
        for at in range(0, 10000, 1000):
            pipe.hset("big", mapping={f"f{i}": f"v{i}" for i in range(at, at + 1000)})
        pipe.execute()
        before = int(p.info_replication()["master_repl_offset"])
        self.assertEqual(c.hset("big", "f7", "changed"), 0)
        self.assertEqual(int(p.info_replication()["master_repl_offset"]), before + 1,
                         "one changed field is one journal entry, not the hash")
        c.expire("big", 100000)
        self.assertEqual(int(p.info_replication()["master_repl_offset"]), before + 2,
                         "an expiry is the header alone")
        c.persist("big")
        rng = random.Random(7)
        for n in range(3000):
            key = f"h{rng.randrange(20)}"
            op = rng.randrange(5)
            if op == 0:
                c.hdel(key, *[f"f{rng.randrange(10)}" for _ in range(3)])
            elif op == 1:
                c.hincrby(key, f"n{rng.randrange(5)}", rng.randrange(-5, 6))
            elif op == 2 and n % 50 == 0:
                c.delete(key)
            elif op == 3 and n % 40 == 0:
                c.expire(key, 1000 + n)
            else:
                c.hset(key, f"f{rng.randrange(10)}", f"v{n}")
            # Lists, sets and sorted sets are composite records too: element or member by
            # member (a sorted set's members scored, its order rebuilt by each replica).
            lst, st, zs = f"l{rng.randrange(5)}", f"s{rng.randrange(5)}", f"z{rng.randrange(5)}"
            if rng.randrange(2):
                c.zadd(zs, {f"m{n % 17}": n % 5 - 2, f"k{n % 3}": n})
            else:
                c.zpopmin(zs)
            choice = rng.randrange(6)
            if choice == 0:
                c.lpush(lst, n, n + 1)
            elif choice == 1:
                c.rpop(lst)
            elif choice == 2:
                c.linsert(lst, "BEFORE", n - 1, f"i{n}")
            elif choice == 3:
                c.sadd(st, n % 13, f"m{n % 7}")
            elif choice == 4:
                c.srem(st, n % 13)
            else:
                c.rpush(lst, f"r{n}")
            # Streams: entries, trims, and a group's pending entries, row by row.
            xs = f"x{rng.randrange(3)}"
            xop = rng.randrange(5)
            try:
                if xop <= 1:
                    c.execute_command("XADD", xs, "MAXLEN", 40, "*", "n", n)
                elif xop == 2:
                    c.execute_command("XGROUP", "CREATE", xs, "g", "0", "MKSTREAM")
                elif xop == 3:
                    c.execute_command("XREADGROUP", "GROUP", "g", f"c{n % 3}", "COUNT", 2, "STREAMS", xs, ">")
                else:
                    c.execute_command("XAUTOCLAIM", xs, "g", f"c{n % 4}", 0, "0", "COUNT", 1)
            except redis.exceptions.ResponseError:
                pass  # BUSYGROUP, NOGROUP: the group is made once, read once made
        c.rename("h1", "{h1}renamed")
        c.set("h2", "now a string")
        self.assertEqual(c.type("big"), b"hash")
        r1.kill9()
        for i in range(200):
            c.hset("while-down", f"f{i}", i)
        r1.start()
        r1.wait_link_up()
        digest = wait_same_digest([p, r1, r2])
        self.assertEqual(r1.redis().hget("big", "f7"), b"changed")
        self.assertEqual(r1.redis().hlen("big"), 10000)
        # The digest sees members and scores; the order each node rebuilt is read too.
        ranges = [[n.redis().zrange(f"z{i}", 0, -1, withscores=True) for i in range(5)]
                  for n in (p, r1, r2)]
        self.assertTrue(any(ranges[0]), "the sorted sets hold members")
        self.assertEqual(ranges[1], ranges[0])
        self.assertEqual(ranges[2], ranges[0])
        streams = [[(n.redis().xrange(f"x{i}"), n.redis().execute_command("XPENDING", f"x{i}", "g"))
                    for i in range(3)] for n in (p, r1, r2)]
        self.assertTrue(any(x[1]["pending"] for x in streams[0]), "the groups hold pending entries")
        self.assertEqual(streams[1], streams[0])
        self.assertEqual(streams[2], streams[0])
        p.stop()
        p.start()
        self.assertEqual(p.redis().execute_command("DEBUG", "DIGEST").decode(), digest,
                         "a restart rebuilds every hash from its fields")
        self.assertEqual([p.redis().zrange(f"z{i}", 0, -1, withscores=True) for i in range(5)],
                         ranges[0])

    def test_json_documents_replicate_and_replicas_refuse_their_writes(self):
        """JSON documents reach a replica live and, after a kill -9, from the log; the replica
        serves the JSON reads and sends their writes to the primary (-MOVED)."""
        p = self.node("p")
        r = self.node("r", replica_of(p))
        p.wait_replicas(1)
        c = p.redis()
        rng = random.Random(23)
        for n in range(600):
            key = f"doc{rng.randrange(10)}"
            if n == 300:
                r.kill9()
            if n == 400:
                r.start()
            op = rng.randrange(7)
            if op == 0 or not c.exists(key):
                c.execute_command("JSON.SET", key, "$", json.dumps({"n": n, "list": [], "o": {}}))
            elif op == 1:
                c.execute_command("JSON.NUMINCRBY", key, "$.n", rng.randrange(-5, 6))
            elif op == 2:
                c.execute_command("JSON.ARRAPPEND", key, "$.list", json.dumps({"at": n}))
            elif op == 3:
                c.execute_command("JSON.SET", key, f"$.o.k{rng.randrange(5)}", json.dumps(n))
            elif op == 4:
                c.execute_command("JSON.DEL", key, f"$.o.k{rng.randrange(5)}")
            elif op == 5 and n % 30 == 0:
                c.execute_command("JSON.DEL", key)
            else:
                c.execute_command("JSON.STRAPPEND", key, "$.o.k0", '"x"')
        r.wait_link_up()
        wait_same_digest([p, r])
        rc = r.redis()
        for i in range(10):
            self.assertTrue(rc.execute_command("READONLY"))
            self.assertEqual(rc.execute_command("JSON.GET", f"doc{i}"),
                             c.execute_command("JSON.GET", f"doc{i}"))
        self.assertEqual(rc.type("doc1"), c.type("doc1"))
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "MOVED|READONLY"):
            r.redis().execute_command("JSON.SET", "doc1", "$.n", "1")

    def test_hyperloglogs_replicate_and_a_replica_counts_without_writing(self):
        """PFADD and PFMERGE reach a replica; a replica answers PFCOUNT of a value whose
        cached estimate is stale without keeping it (it writes nothing), while the
        primary's PFCOUNT keeps it, and that write reaches the replica too."""
        p = self.node("p")
        r = self.node("r", replica_of(p))
        p.wait_replicas(1)
        c = p.redis()
        for i in range(30):
            c.pfadd("{hll}a", *[f"a{i}-{j}" for j in range(100)])
            c.pfadd("{hll}b", f"b{i}")
        c.pfmerge("{hll}m", "{hll}a", "{hll}b")
        wait_same_digest([p, r])
        rc = r.redis()
        self.assertTrue(rc.execute_command("READONLY"))
        self.assertEqual(rc.getrange("{hll}m", 15, 15), b"\x80")  # stale
        count = rc.pfcount("{hll}m")
        self.assertEqual(count, c.pfcount("{hll}a", "{hll}b"))
        self.assertEqual(rc.getrange("{hll}m", 15, 15), b"\x80", "the replica wrote its cache")
        self.assertEqual(c.pfcount("{hll}m"), count)
        self.assertEqual(c.getrange("{hll}m", 15, 15), b"\x00")
        wait_same_digest([p, r])
        self.assertEqual(rc.get("{hll}m"), c.get("{hll}m"))
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "MOVED|READONLY"):
            r.redis().pfadd("{hll}a", "x")

    def test_xread_block_on_a_replica_waits_for_the_primarys_entries(self):
        """XREAD BLOCK on a replica waits there (it used to be sent to the primary with
        -MOVED) and is answered by the group from the primary that adds what it waits for;
        a timeout, CLIENT UNBLOCK and a closed connection end it as on a primary; after the
        replica is promoted, a wait left from before is answered by its own writes.
        XREADGROUP, which writes, still goes to the primary."""
        p = self.node("p")
        r = self.node("r", replica_of(p))
        p.wait_replicas(1)
        c = p.redis()
        c.xadd("{s}a", {"n": 0})
        wait_same_digest([p, r])

        def blocked(count):
            wait_until(lambda: int(r.redis().info("clients")["blocked_clients"]) == count, 10,
                       f"{count} blocked clients on the replica")

        def xread_in_thread(streams, block_ms, out, client=None):
            rc = client or r.redis()
            t = threading.Thread(target=lambda: out.append(rc.xread(streams, block=block_ms)))
            t.start()
            return t

        # Served by the primary's XADD, with only the stream that has something new.
        got = []
        t = xread_in_thread({"{s}a": "$", "{s}b": "$"}, 20000, got)
        blocked(1)
        added = c.xadd("{s}b", {"n": 1})
        t.join(10)
        self.assertEqual(got, [[[b"{s}b", [(added, {b"n": b"1"})]]]])
        blocked(0)

        # A timeout answers null.
        started = time.monotonic()
        self.assertIsNone(r.redis().xread({"{s}a": "$"}, block=300) or None)
        self.assertLess(time.monotonic() - started, 5)

        # CLIENT UNBLOCK: as a timeout, or with -UNBLOCKED.
        for how, expect in (("TIMEOUT", None), ("ERROR", "UNBLOCKED")):
            rc = r.redis(single_connection_client=True)
            client_id = rc.client_id()
            got = []

            def read(rc=rc, got=got):
                try:
                    got.append(rc.xread({"{s}a": "$"}, block=0))
                except redis.exceptions.ResponseError as e:
                    got.append(str(e))
            t = threading.Thread(target=read)
            t.start()
            blocked(1)
            self.assertEqual(r.redis().execute_command("CLIENT", "UNBLOCK", client_id, how), 1)
            t.join(10)
            if expect is None:
                self.assertIn(got, ([None], [[]]))
            else:
                self.assertEqual(len(got), 1)
                self.assertIn(expect, got[0])
            blocked(0)

        # A connection that closes while it waits is forgotten.
        s = socket.create_connection(("127.0.0.1", r.resp_port))
        s.sendall(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n"
                  b"$4\r\n{s}a\r\n$1\r\n$\r\n")
        blocked(1)
        s.close()
        blocked(0)

        # XREADGROUP writes (the group's position, the pending list): the primary's.
        c.xgroup_create("{s}a", "g", id="0")
        wait_same_digest([p, r])
        with self.assertRaisesRegex(redis.exceptions.ResponseError, "MOVED"):
            r.redis().xreadgroup("g", "c1", {"{s}a": ">"}, block=100)

        # Promoted while a reader waits: the new primary's own XADD answers it.
        got = []
        t = xread_in_thread({"{s}a": "$"}, 20000, got)
        blocked(1)
        promote(r)
        wait_until(lambda: r.info_replication().get("role") == "master", 20, "r to take writes")
        added = r.redis().xadd("{s}a", {"n": 2})
        t.join(10)
        self.assertEqual(got, [[[b"{s}a", [(added, {b"n": b"2"})]]]])
        blocked(0)

    def test_a_replicas_event_streams_and_device_channels_follow_the_primary(self):
        """A device watched on a replica (SSE, PSUBSCRIBE device:*, keyspace events) hears
        each change the primary commits, once the replica has applied it, with the primary's
        version and message. Before, the replica's stream sent the state it had when the
        client came and then nothing."""
        p = self.node("p", "--resp.notify_keyspace_events=K$")
        r = self.node("r", replica_of(p), "--resp.notify_keyspace_events=K$")
        p.wait_replicas(1)
        self.assertEqual(p.post_json("/devices/w1", {"temperature": 1})[0], 200)
        wait_same_digest([p, r])
        es = EventStream(r.http_port, "/devices/w1/events")
        self.others.append(es)
        first = es.next_event()
        self.assertEqual((first["id"], first["event"]), ("1", "change"))
        sub = r.redis().pubsub()
        sub.psubscribe("device:*", "__keyspace@0__:*")
        self.assertEqual(sub.get_message(timeout=5)["type"], "psubscribe")
        self.assertEqual(sub.get_message(timeout=5)["type"], "psubscribe")
        watched = p.redis().pubsub()
        watched.psubscribe("device:*")
        self.assertEqual(watched.get_message(timeout=5)["type"], "psubscribe")
        for t in (2, 3):
            self.assertEqual(p.post_json("/devices/w1", {"temperature": t})[0], 200)
            event = es.next_event()
            self.assertIsNotNone(event, f"the replica's stream missed version {t}")
            self.assertEqual(event["id"], str(t))
            self.assertEqual(json.loads(event["data"])["state"]["temperature"], t)
            on_primary = watched.get_message(timeout=5)
            got = {}
            while len(got) < 2:
                m = sub.get_message(timeout=5)
                self.assertIsNotNone(m, f"the replica's channels missed version {t}")
                got[m["channel"]] = m["data"]
            self.assertEqual(got[b"device:w1:changes"], on_primary["data"])
            self.assertEqual(got[b"__keyspace@0__:device:w1:latest"], b"set")
        sub.close()
        watched.close()

        # CLIENT TRACKING on the replica: a key read there is invalidated by the primary's
        # write, once applied there.
        t = Raw(r.resp_port)
        self.others.append(t)
        self.assertTrue(t.call("HELLO", "3").startswith(b"%"))
        self.assertEqual(t.call("CLIENT", "TRACKING", "on"), b"+OK\r\n")
        t.call("GET", "device:w1:latest")
        self.assertEqual(p.post_json("/devices/w1", {"temperature": 4})[0], 200)
        self.assertEqual(t.read(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$16\r\ndevice:w1:latest\r\n")

    def test_kill9_of_the_primary_loses_no_acknowledged_write(self):
        """10 rounds: writers on the primary (N = 1), kill -9 at a random instant, promote the
        replica with REPLICAOF NO ONE; every acknowledged write is there. The dead primary
        rejoins as a replica of the new one and the roles swap for the next round."""
        args = ("--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=3000")
        a = self.node("a", *args)
        b = self.node("b", *args, replica_of(a))
        a.wait_replicas(1)
        primary, replica = a, b
        rng = random.Random(20261130)
        total = 0
        for rnd in range(10):
            writers = Writers(primary.redis, f"r{rnd}")
            wait_until(lambda: writers.count() > 200, 30, "acknowledged writes")
            time.sleep(rng.uniform(0.0, 0.4))  # a random instant to kill at
            primary.kill9()
            ledger = writers.stop()
            promote(replica)
            self.assertEqual(missing_keys(replica, ledger), [], f"round {rnd}")
            total += len(ledger)
            # The old primary rejoins, following the new one.
            primary.args = [x for x in primary.args if not x.startswith("--replication.replicaof")]
            primary.args.append(replica_of(replica))
            primary.start()
            replica.wait_replicas(1, 60)
            primary, replica = replica, primary
        wait_same_digest([primary, replica], 60)
        self.assertGreater(total, 2000)

    def test_a_replica_killed_under_load_catches_up_from_the_journal(self):
        p = self.node("p", "--replication.min_replicas_ack=1")
        r1 = self.node("r1", replica_of(p))
        r2 = self.node("r2", replica_of(p))
        p.wait_replicas(2)
        writers = Writers(p.redis, "load", threads=3)
        wait_until(lambda: writers.count() > 500, 30, "writes")
        r2.kill9()
        wait_until(lambda: writers.count() > 3000, 60, "writes while r2 is down")
        r2.start()
        r2.wait_link_up()
        ledger = writers.stop()
        wait_same_digest([p, r1, r2])
        self.assertEqual(missing_keys(r2, ledger), [])
        # From the journal, not a full copy.
        self.assertEqual(p.info_replication()["full_copies_sent"], "0")

    def test_full_copy_of_a_million_keys_to_a_wiped_replica_and_one_past_retention(self):
        p = self.node("p", "--replication.wal_retention_mb=0", "--replication.wal_retention_s=0")
        late = self.node("late", replica_of(p))
        p.wait_replicas(1)
        late.redis().ping()
        late.stop()
        # A million keys, pipelined MSETs on one connection.
        n = 1000000
        with socket.create_connection(("127.0.0.1", p.resp_port)) as s:
            per = 500
            commands = []
            for at in range(0, n, per):
                parts = [b"MSET"]  # one hash slot per MSET, as a cluster requires
                for i in range(at, at + per):
                    parts += [b"dev:{%d}:%d" % (at, i), b'{"status":"active","temperature":%d,'
                              b'"firmware":"2.4.1-rc7","site":"warehouse-7","zone":"cold-A"}'
                              % (i % 97)]
                commands.append(b"*%d\r\n" % len(parts) +
                                b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in parts))
            s.sendall(b"".join(commands))
            want = len(commands) * 5
            got = b""
            while len(got) < want:
                chunk = s.recv(1 << 20)
                self.assertTrue(chunk)
                got += chunk
            self.assertEqual(got, b"+OK\r\n" * len(commands))
        self.assertEqual(p.redis().dbsize(), n)
        # A hash travels in the copy as its fields (the digest compares them).
        p.redis().hset("copied-hash", mapping={f"f{i}": i for i in range(1000)})
        n += 1
        # A wiped replica (a new, empty directory): full copy.
        start = time.monotonic()
        fresh = self.node("fresh", replica_of(p))
        fresh.wait_link_up(120)
        def holds_all():
            try:
                return fresh.redis().dbsize() == n
            except redis.exceptions.BusyLoadingError:  # -LOADING while the copy installs
                return False
        wait_until(holds_all, 120, "a million keys on the new replica")
        copy_s = time.monotonic() - start
        print(f"\nfull copy of {n} keys to a new replica: {copy_s:.1f} s", file=sys.stderr)
        # A replica whose position the log no longer holds: full copy too.
        late.start()
        late.wait_link_up(120)
        wait_same_digest([p, fresh, late], 120)
        self.assertEqual(int(late.info_replication()["full_copies_received"]), 1)
        self.assertEqual(int(p.info_replication()["full_copies_sent"]), 2)

    def test_a_divergent_tail_is_dropped_everywhere(self):
        """The old primary journals a group its replica never gets (the link drops every
        byte), so the group is never acknowledged; it dies; the replica is promoted; the old
        primary rejoins: its tail is not on the new primary's history, so it gets a full copy
        and the unacknowledged write is gone everywhere. Nothing acknowledged is lost."""
        p = self.node("p", "--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=1000")
        proxy = Proxy(p.resp_port)
        self.others.append(proxy)
        r = self.node("r", f"--replication.replicaof=127.0.0.1:{proxy.port}")
        p.wait_replicas(1)
        c = p.redis()
        self.assertTrue(c.set("acked:1", "a"))
        proxy.blackhole()
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            c.set("tail", "never acknowledged")
        self.assertIn("NOREPLICAS", str(e.exception))
        self.assertIsNone(c.get("tail"))  # not visible on the primary either
        p.kill9()
        proxy.close()
        promote(r)
        self.assertTrue(r.redis().set("acked:2", "b"))
        p.args = [x for x in p.args if not x.startswith("--replication.min_replicas_ack")]
        p.args.append(replica_of(r))
        p.start()
        r.wait_replicas(1, 60)
        wait_same_digest([p, r])
        self.assertEqual(int(p.info_replication()["full_copies_received"]), 1)
        for n in (p, r):
            self.assertIsNone(n.redis().get("tail"), n.name)
            self.assertEqual(n.redis().get("acked:1"), b"a")
            self.assertEqual(n.redis().get("acked:2"), b"b")

    def test_negative_control_the_checker_sees_a_loss_of_asynchronous_writes(self):
        """With N = 0 (asynchronous, Redis's default) a write is acknowledged before any
        replica holds it, so a failover can lose it. Built deliberately (the link drops every
        byte, then the primary dies): the ledger check used above must report the loss."""
        p = self.node("p")
        proxy = Proxy(p.resp_port)
        self.others.append(proxy)
        r = self.node("r", f"--replication.replicaof=127.0.0.1:{proxy.port}")
        p.wait_replicas(1)
        c = p.redis()
        c.set("before", "1")
        wait_until(lambda: r.redis().get("before") == b"1", 10, "the first write on the replica")
        proxy.blackhole()
        ledger = [f"lost:{i}" for i in range(100)]
        for key in ledger:
            self.assertTrue(c.set(key, "acknowledged"))  # acknowledged: N = 0
        p.kill9()
        proxy.close()
        promote(r)
        self.assertEqual(missing_keys(r, ["before"] + ledger), ledger)

    def test_a_write_is_readable_only_once_acknowledged(self):
        """... and only then told: no keyspace notification, no device-channel message while
        the replica has not acknowledged the write."""
        p = self.node("p", "--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=60000",
                      "--resp.notify_keyspace_events=KEA")
        proxy = Proxy(p.resp_port)
        self.others.append(proxy)
        r = self.node("r", f"--replication.replicaof=127.0.0.1:{proxy.port}")
        p.wait_replicas(1)
        sub = p.redis().pubsub()
        sub.psubscribe("__key*__:*", "device:*:changes")
        for _ in range(2):
            self.assertEqual(sub.get_message(timeout=5)["type"], "psubscribe")
        proxy.blackhole()
        result = {}
        writer = threading.Thread(target=lambda: result.update(ok=p.redis().set("k", "new")))
        writer.start()
        ingest = threading.Thread(target=lambda: result.update(
            http=p.post_json("/devices/d9", {"temperature": 7})[0]))
        ingest.start()
        # The groups are journaled on the primary and wait for the replica: nobody reads
        # them, nobody hears of them.
        wait_until(lambda: int(p.info_replication()["master_repl_offset"]) >= 3, 10,
                   "the writes journaled")
        reader = p.redis()
        for _ in range(20):
            self.assertIsNone(reader.get("k"))
            self.assertIsNone(sub.get_message(timeout=0.05), "told before the acknowledgement")
        self.assertTrue(writer.is_alive())  # not answered yet
        proxy.heal()  # the link breaks; the replica reconnects and catches up from the journal
        writer.join(60)
        ingest.join(60)
        self.assertEqual(result.get("ok"), True)
        self.assertEqual(result.get("http"), 200)
        self.assertEqual(reader.get("k"), b"new")
        self.assertEqual(r.redis().get("k"), b"new")
        heard = set()
        while len(heard) < 5:
            m = sub.get_message(timeout=10)
            self.assertIsNotNone(m, f"heard only {heard}")
            heard.add((m["channel"].decode(), m["data"].decode()))
        self.assertIn(("__keyspace@0__:k", "set"), heard)
        self.assertIn(("__keyevent@0__:set", "k"), heard)
        self.assertIn(("__keyspace@0__:device:d9:latest", "set"), heard)
        changed = [json.loads(d) for c, d in heard if c == "device:d9:changes"]
        self.assertEqual(len(changed), 1)
        self.assertEqual(changed[0]["deviceId"], "d9")
        self.assertEqual(changed[0]["state"]["temperature"], 7)

    def test_a_stopped_replica_with_n1(self):
        """SIGSTOP of one replica of two: writes go on. Of the only one: writes fail within
        the ack timeout, reads go on, and once it runs again writes resume, no restart."""
        p = self.node("p", "--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=1000")
        r1 = self.node("r1", replica_of(p))
        r2 = self.node("r2", replica_of(p))
        p.wait_replicas(2)
        c = p.redis()
        os.kill(r1.proc.pid, signal.SIGSTOP)
        for i in range(50):
            self.assertTrue(c.set(f"a{i}", i))
        r2.stop()
        self.nodes.remove(r2)
        start = time.monotonic()
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            c.set("b", 1)
        self.assertIn("NOREPLICAS", str(e.exception))
        self.assertLess(time.monotonic() - start, 4.0)
        self.assertEqual(c.get("a7"), b"7")  # reads go on
        self.assertEqual(p.get("/readyz")[0], 503)
        os.kill(r1.proc.pid, signal.SIGCONT)

        def writes_again():
            try:
                return c.set("c", 1)
            except redis.exceptions.ResponseError:
                return False
        wait_until(writes_again, 30, "writes resuming")
        wait_same_digest([p, r1])

    def test_failover_under_load_loses_nothing_and_cluster_clients_follow(self):
        from redis.cluster import RedisCluster
        args = ("--replication.min_replicas_ack=1",)
        p = self.node("p", *args)
        r1 = self.node("r1", *args, replica_of(p))
        r2 = self.node("r2", *args, replica_of(p))
        p.wait_replicas(2)

        def cluster_client():
            return RedisCluster(host="127.0.0.1", port=p.resp_port, socket_timeout=10)
        writers = Writers(cluster_client, "fo", threads=3)
        wait_until(lambda: writers.count() > 1000, 30, "writes before the failover")
        before = writers.count()
        self.assertEqual(p.redis().execute_command("FAILOVER", "TO", "127.0.0.1", r1.resp_port,
                                                   "TIMEOUT", 10000), b"OK")
        wait_until(lambda: r1.info_replication()["role"] == "master", 30, "r1 promoted")
        wait_until(lambda: p.info_replication()["role"] == "slave", 30, "p following")
        wait_until(lambda: writers.count() > before + 2000, 60, "writes after the failover")
        ledger = writers.stop()
        self.assertEqual(missing_keys(r1, ledger), [])
        r1.wait_replicas(2, 60)  # p, and r2 (sent on by p)
        wait_same_digest([p, r1, r2])
        self.assertGreater(int(r1.info_replication()["epoch"]),
                           int(p.info_replication()["epoch"]) - 1)

    def test_a_replica_follows_a_tls_primary_and_refuses_one_it_cannot_verify(self):
        from security_test import make_certs
        d = os.path.join(self.work.path, "certs")
        os.makedirs(d)
        certs = make_certs(d)
        p = self.node("p", "--resp.tls=true", f"--tls.cert={certs['server.pem']}",
                      f"--tls.key={certs['server.key']}", f"--tls.ca={certs['ca.pem']}")
        rogue = self.node("rogue", replica_of(p), "--replication.tls=true",
                          f"--tls.ca={certs['rogue-ca.pem']}")
        r = self.node("r", replica_of(p), "--replication.tls=true", f"--tls.ca={certs['ca.pem']}")
        r.wait_link_up()
        c = redis.Redis(host="127.0.0.1", port=p.resp_port, ssl=True, ssl_ca_certs=certs["ca.pem"])
        c.set("over-tls", "1")
        wait_until(lambda: r.redis().get("over-tls") == b"1", 10, "the write on the replica")
        info = rogue.info_replication()
        self.assertEqual(info["master_link_status"], "down")
        self.assertIn("TLS", info.get("master_link_down_reason", ""))

    def test_a_replica_whose_journal_fails_stops_acknowledging_and_says_why(self):
        """The replica's store on a small tmpfs: once it fills, the replica acknowledges
        nothing more (N = 1 writes fail on the primary) and its log and INFO say why."""
        import subprocess
        mnt = os.path.join(self.work.path, "small")
        os.makedirs(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], check=True)
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt], check=False))
        p = self.node("p", "--replication.min_replicas_ack=1", "--replication.ack_timeout_ms=1000")
        r = Node(self.work.path, "r", args=(replica_of(p),))
        self.nodes.append(r)
        r.stop()
        r.store_dir = os.path.join(mnt, "store")
        r.start()
        p.wait_replicas(1)
        c = p.redis()
        value = "x" * 4000
        failed = None
        for i in range(20000):
            try:
                c.set(f"big:{i}", value)
            except redis.exceptions.ResponseError as e:
                failed = str(e)
                break
        self.assertIsNotNone(failed, "the replica's disk never filled")
        self.assertIn("NOREPLICAS", failed)
        def logged():
            with open(r.log_path) as f:
                return "this replica's journal failed" in f.read()
        wait_until(logged, 10, "the replica saying why")
        info = r.info_replication()
        self.assertEqual(info["master_link_status"], "down")
        self.assertIn("space", info.get("master_link_down_reason", "").lower())
        held = int(info["slave_repl_offset"])
        self.assertLess(held, int(p.info_replication()["master_repl_offset"]))
        self.assertIsNone(c.get(f"big:{i}"))  # the unacknowledged write stays invisible

    def test_replication_needs_the_permission(self):
        acl = os.path.join(self.work.path, "users.acl")
        with open(acl, "w") as f:
            f.write("user default on nopass ~* &* +@all -psync\n"
                    "user repl on >s3cret ~* &* +psync +ping\n")
        p = self.node("p", f"--acl.file={acl}")
        with self.assertRaises(redis.exceptions.NoPermissionError) as e:
            p.redis().execute_command("PSYNC", "devstate", "a" * 40, 0, 0, 0, "127.0.0.1:1:2")
        self.assertIn("'psync' command", str(e.exception))
        pw = os.path.join(self.work.path, "pw")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        r = self.node("r", replica_of(p), "--replication.user=repl",
                      f"--replication.password_file={pw}")
        r.wait_link_up()
        p.redis().set("x", "1")
        wait_until(lambda: r.redis().get("x") == b"1", 10, "the write on the replica")


if __name__ == "__main__":
    unittest.main(verbosity=2)
