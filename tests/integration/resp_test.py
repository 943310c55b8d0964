#!/usr/bin/python3
"""RESP compatibility with real clients: redis-cli, redis-benchmark, redis-py (plain and
RedisCluster), and the limits a demanding Redis user relies on."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import redis  # noqa: E402  Debian python3-redis
from redis.cluster import RedisCluster  # noqa: E402

from harness import Devstate, WorkDir, raw_exchange as resp_exchange, tail, wait_until  # noqa: E402


class RespTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("resp")
        cls.ds = Devstate(cls.work.path, args=["--limits.max_bulk_bytes=65536", "--limits.max_multibulk=1000",
                                               "--limits.max_query_buffer_bytes=262144",
                                               "--limits.max_output_buffer_bytes=1048576",
                                               "--resp.max_clients=20"])
        cls.r = redis.Redis(port=cls.ds.resp_port, decode_responses=True)

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def cli(self, *args, stdin=None):
        out = subprocess.run(["redis-cli", "-p", str(self.ds.resp_port), *args], input=stdin,
                             capture_output=True, text=True, timeout=30)
        return out.stdout

    # --- redis-cli -----------------------------------------------------------------------
    def test_redis_cli_commands(self):
        self.assertEqual(self.cli("ping"), "PONG\n")
        self.assertEqual(self.cli("set", "cli:a", "hello world"), "OK\n")
        self.assertEqual(self.cli("--raw", "get", "cli:a"), "hello world\n")
        self.assertEqual(self.cli("get", "cli:none"), "\n")
        self.assertEqual(self.cli("set", "cli:a", "x", "nx"), "\n")
        self.assertEqual(self.cli("set", "cli:a", "y", "xx", "get"), "hello world\n")
        self.assertEqual(self.cli("setnx", "cli:b", "1"), "1\n")
        self.assertEqual(self.cli("setnx", "cli:b", "2"), "0\n")
        # Multi-key commands name keys of one slot, as on any Redis Cluster ({hash tag}).
        self.assertEqual(self.cli("mset", "{cli}:c", "3", "{cli}:d", "4"), "OK\n")
        self.assertEqual(self.cli("--raw", "mget", "{cli}:c", "{cli}:none", "{cli}:d"), "3\n\n4\n")
        self.assertEqual(self.cli("exists", "{cli}:c", "{cli}:d", "{cli}:none"), "2\n")
        self.assertEqual(self.cli("mset", "cli:c", "3", "cli:d", "4"),
                         "CROSSSLOT Keys in request don't hash to the same slot\n\n")
        self.assertEqual(self.cli("type", "{cli}:c"), "string\n")
        self.assertEqual(self.cli("type", "cli:none"), "none\n")
        self.assertEqual(self.cli("del", "{cli}:c", "{cli}:none"), "1\n")
        self.assertEqual(self.cli("unlink", "{cli}:d"), "1\n")
        self.assertEqual(self.cli("echo", "hi"), "hi\n")
        self.assertEqual(self.cli("select", "0"), "OK\n")
        self.assertIn("ERR", self.cli("select", "1"))
        # redis-cli prints an error and a blank line, for redis-server too.
        self.assertEqual(self.cli("get"), "ERR wrong number of arguments for 'get' command\n\n")
        self.assertEqual(self.cli("nosuch", "a"), "ERR unknown command 'nosuch', with args beginning with: 'a' \n\n")
        self.assertEqual(self.cli("set", "k", "v", "bogus"), "ERR syntax error\n\n")

    def test_redis_cli_repeat_and_pipe(self):
        self.assertEqual(self.cli("-r", "5", "incr_none_is_unknown") .count("ERR unknown command"), 5)
        self.assertEqual(self.cli("-r", "3", "ping"), "PONG\nPONG\nPONG\n")
        piped = "".join(f"SET pipe:{i} {i}\n" for i in range(100)) + "GET pipe:99\nDBSIZE\n"
        out = self.cli(stdin=piped).splitlines()
        self.assertEqual(out[:100], ["OK"] * 100)
        self.assertEqual(out[100], "99")
        # --pipe speaks the raw protocol and checks every reply.
        proto = "".join(f"*3\r\n$3\r\nSET\r\n${len(f'mass:{i}')}\r\nmass:{i}\r\n$1\r\nv\r\n" for i in range(2000))
        out = subprocess.run(["redis-cli", "-p", str(self.ds.resp_port), "--pipe"], input=proto,
                             capture_output=True, text=True, timeout=60)
        self.assertIn("errors: 0, replies: 2000", out.stdout)
        self.assertEqual(self.r.get("mass:1999"), "v")

    def test_expiry_ttl_persist(self):
        r = self.r
        self.assertTrue(r.set("ttl:a", "1", ex=100))
        self.assertIn(r.ttl("ttl:a"), (99, 100))
        self.assertGreater(r.pttl("ttl:a"), 98000)
        self.assertEqual(r.ttl("ttl:none"), -2)
        r.set("ttl:b", "1")
        self.assertEqual(r.ttl("ttl:b"), -1)
        self.assertTrue(r.expire("ttl:b", 50))
        self.assertFalse(r.expire("ttl:none", 50))
        self.assertTrue(r.persist("ttl:b"))
        self.assertEqual(r.ttl("ttl:b"), -1)
        self.assertTrue(r.pexpire("ttl:b", 150))
        wait_until(lambda: r.get("ttl:b") is None, 5, "ttl:b to expire")
        self.assertEqual(r.exists("ttl:b"), 0)
        r.set("ttl:c", "1", px=200)
        wait_until(lambda: r.get("ttl:c") is None, 5, "ttl:c to expire")
        self.assertNotIn("ttl:c", r.keys("ttl:*"))
        r.set("ttl:d", "v", ex=100)
        r.set("ttl:d", "w", keepttl=True)
        self.assertGreater(r.ttl("ttl:d"), 90)

    def test_untouched_expired_keys_are_removed(self):
        before = self.r.dbsize()
        expired_before = self.r.info("stats")["expired_keys"]
        with self.r.pipeline(transaction=False) as p:
            for i in range(200):
                p.set(f"gone:{i}", "v", px=100)
            p.execute()
        self.assertGreaterEqual(self.r.dbsize(), before + 200)
        # Never read again: active expiry removes them (durably, through the pipeline).
        wait_until(lambda: self.r.dbsize() <= before, 10, "expired keys to be swept")
        self.assertGreaterEqual(self.r.info("stats")["expired_keys"], expired_before + 200)

    def test_keys_scan_dbsize(self):
        for i in range(300):
            self.r.set(f"scan:{i}", i)
        self.assertEqual(len(self.r.keys("scan:*")), 300)
        self.assertEqual(set(self.r.scan_iter(match="scan:1?", count=7)), {f"scan:{i}" for i in range(10, 20)})
        self.assertEqual(len(set(self.r.scan_iter(match="scan:*", count=50))), 300)
        self.assertEqual(list(self.r.scan_iter(match="scan:*", _type="hash")), [])
        self.assertGreaterEqual(self.r.dbsize(), 300)

    def test_info_client_config_time_command(self):
        info = self.r.info()
        self.assertEqual(info["cluster_enabled"], 1)
        self.assertEqual(len(info["run_id"]), 40)
        self.assertEqual(info["role"], "master")
        self.assertIn("connected_clients", info)
        self.assertIn("used_memory", info)
        self.assertEqual(info["aof_enabled"], 1)
        self.assertEqual(self.r.info("keyspace")["db0"]["keys"], self.r.dbsize())
        self.r.set("info:ttl", "1", ex=1000)
        self.assertGreaterEqual(self.r.info("keyspace")["db0"]["expires"], 1)
        self.assertIsInstance(self.r.client_id(), int)
        self.assertTrue(self.r.client_setname("tester"))
        self.assertEqual(self.r.client_getname(), "tester")
        self.assertTrue(any(c["name"] == "tester" for c in self.r.client_list()))
        self.assertEqual(self.r.client_info()["name"], "tester")
        self.assertEqual(self.r.config_get("appendfsync"), {"appendfsync": "always"})
        self.assertIn("save", self.r.config_get("*"))
        secs, usecs = self.r.time()
        self.assertLess(abs(secs - time.time()), 5)
        self.assertGreater(self.r.command_count(), 30)
        self.assertEqual(self.r.command_getkeys("MSET", "a", "1", "b", "2"), ["a", "b"])
        cmd = self.r.execute_command("COMMAND", "INFO", "get")
        self.assertEqual(cmd["get"]["arity"], 2)

    def test_client_kill(self):
        other = redis.Redis(port=self.ds.resp_port)
        other.client_setname("victim")
        victim = [c for c in self.r.client_list() if c["name"] == "victim"][0]
        self.assertEqual(self.r.client_kill_filter(_id=victim["id"]), 1)
        wait_until(lambda: not any(c["name"] == "victim" for c in self.r.client_list()), 5, "victim gone")
        other.close()

    def test_hello_resp3_with_redis_cli(self):
        out = self.cli("-3", "hello", "3")
        self.assertIn("proto", out)
        out = resp_exchange(self.ds.resp_port, b"HELLO 3\r\nGET resp3:none\r\nHELLO 2\r\nGET resp3:none\r\nQUIT\r\n")
        self.assertTrue(out.startswith(b"%7\r\n"), out)
        self.assertIn(b"\r\n_\r\n*14\r\n", out)  # RESP3 null, then HELLO 2's reply as a flat array
        self.assertTrue(out.endswith(b"$-1\r\n+OK\r\n"), out)  # RESP2 null again
        self.assertEqual(self.cli("hello", "4").strip(), "NOPROTO unsupported protocol version")

    # --- redis-py ------------------------------------------------------------------------
    def test_redis_py_plain(self):
        r = self.r
        self.assertTrue(r.ping())
        self.assertTrue(r.set("{py}:1", "a"))
        self.assertEqual(r.get("{py}:1"), "a")
        self.assertEqual(r.mget(["{py}:1", "{py}:none"]), ["a", None])
        with r.pipeline() as p:  # MULTI/EXEC
            p.set("{py}:2", "b").get("{py}:2").mget("{py}:1", "{py}:2")
            self.assertEqual(p.execute(), [True, "b", ["a", "b"]])
        with r.pipeline(transaction=False) as p:
            for i in range(100):
                p.set(f"py:p{i}", i)
            p.get("py:p99")
            self.assertEqual(p.execute()[-1], "99")
        self.assertEqual(len(list(r.scan_iter(match="py:p*"))), 100)

    def test_redis_py_cluster(self):
        c = RedisCluster(host="127.0.0.1", port=self.ds.resp_port, decode_responses=True)
        try:
            state = {"deviceId": "123", "status": "active", "temperature": 6.4}
            self.assertTrue(c.ping())
            self.assertTrue(c.set("device:123:latest", json.dumps(state)))
            self.assertEqual(json.loads(c.get("device:123:latest")), state)
            self.assertEqual(c.mget_nonatomic(["device:123:latest", "cl:none"])[1], None)
            for i in range(50):
                c.set(f"cl:{i}", i)
            self.assertEqual(len(list(c.scan_iter(match="cl:*"))), 50)
            p = c.pipeline()
            p.set("cl:p", 1)
            p.get("cl:p")
            self.assertEqual(p.execute(), [True, "1"])
            self.assertEqual(c.cluster_keyslot("foo"), 12182)
            self.assertEqual(c.cluster_info()["cluster_state"], "ok")
        finally:
            c.close()

    def test_device_record_readable_as_string(self):
        status, _ = self.ds.post_json("/devices/rx", {"status": "on", "ts": 5})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(self.r.get("device:rx:latest"))["status"], "on")
        self.assertEqual(self.r.type("device:rx:latest"), "string")

    def test_a_device_record_changes_only_by_events_and_moves_whole(self):
        self.assertEqual(self.ds.post_json("/devices/ry", {"status": "on", "ts": 5})[0], 200)
        for cmd in (("APPEND", "device:ry:latest", "x"), ("SETRANGE", "device:ry:latest", 0, "x")):
            with self.assertRaisesRegex(redis.ResponseError, "is a device record: send it an event"):
                self.r.execute_command(*cmd)
        with self.assertRaisesRegex(redis.ResponseError, "not an integer"):
            self.r.incr("device:ry:latest")
        self.assertEqual(self.r.strlen("device:ry:latest"), len(self.r.get("device:ry:latest")))
        # RENAME keeps it a device record: events merge into it under its new name (one in
        # the same slot, as a cluster requires).
        from redis.crc import key_slot
        slot = key_slot(b"device:ry:latest")
        other = next(f"rz{i}" for i in range(10**6) if key_slot(f"device:rz{i}:latest".encode()) == slot)
        self.assertTrue(self.r.rename("device:ry:latest", f"device:{other}:latest"))
        self.assertEqual(self.ds.post_json(f"/devices/{other}", {"level": 3, "ts": 6})[0], 200)
        state = json.loads(self.r.get(f"device:{other}:latest"))
        self.assertEqual((state["status"], state["level"]), ("on", 3))

    def test_counters_are_durable_and_lose_no_increment(self):
        threads = [threading.Thread(target=lambda: [redis.Redis(port=self.ds.resp_port).incr("ctr:a")
                                                    for _ in range(200)]) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.r.get("ctr:a"), "1000")
        self.assertEqual(self.ds.stop(), 0)
        self.ds.start()
        RespTest.r = redis.Redis(port=self.ds.resp_port, decode_responses=True)
        self.assertEqual(self.r.incrby("ctr:a", 5), 1005)

    def test_hash_fields_are_durable_and_lose_no_increment(self):
        def worker(w):
            c = redis.Redis(port=self.ds.resp_port)
            for i in range(200):
                c.hincrby("hctr", "n", 1)
                c.hset("hctr", f"w{w}:{i}", i)
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.r.hget("hctr", "n"), "1000")
        self.assertEqual(self.r.hlen("hctr"), 1001, "no field lost to a concurrent writer")
        # A transaction over hashes is atomic; WATCH sees a hash changed by another client.
        p = self.r.pipeline()
        p.hset("htx", "a", 1)
        p.hincrby("htx", "a", 5)
        p.hdel("htx", "a")
        p.hset("htx", "b", 2)
        self.assertEqual(p.execute(), [1, 6, 1, 1])
        w = redis.Redis(port=self.ds.resp_port).pipeline()
        w.watch("htx")
        self.r.hset("htx", "c", 3)
        w.multi()
        w.hset("htx", "d", 4)
        with self.assertRaises(redis.exceptions.WatchError):
            w.execute()
        self.r.expire("htx", 1000)
        self.assertEqual(self.ds.stop(), 0)
        self.ds.start()
        RespTest.r = redis.Redis(port=self.ds.resp_port, decode_responses=True)
        self.assertEqual(self.r.hget("hctr", "n"), "1000")
        self.assertEqual(self.r.hlen("hctr"), 1001)
        self.assertEqual(self.r.hgetall("htx"), {"b": "2", "c": "3"})
        self.assertGreater(self.r.ttl("htx"), 900, "the expiry came back with the fields")
        self.assertEqual(self.r.type("htx"), "hash")

    def test_watch_aborts_exec_on_a_write_from_anywhere(self):
        def attempt(key, meddle):
            p = redis.Redis(port=self.ds.resp_port).pipeline()
            p.watch(key)
            meddle()
            p.multi()
            p.set(key + ":done", "1")
            try:
                p.execute()
                return "ran"
            except redis.WatchError:
                return "aborted"

        self.r.set("wt:a", "1")
        self.assertEqual(attempt("wt:a", lambda: None), "ran")
        self.assertEqual(attempt("wt:a", lambda: redis.Redis(port=self.ds.resp_port).set("wt:a", "1")),
                         "aborted", "another client's write, even of the same value")
        self.assertEqual(attempt("wt:a", lambda: self.r.set("wt:a", "9", nx=True)), "ran",
                         "a write that changes nothing")
        self.assertEqual(self.ds.post_json("/devices/wt", {"x": 1, "ts": 1})[0], 200)
        self.assertEqual(attempt("device:wt:latest",
                                 lambda: self.ds.post_json("/devices/wt", {"x": 2, "ts": 2})), "aborted",
                         "an event ingested over HTTP")
        self.assertEqual(attempt("device:wt:latest",
                                 lambda: self.ds.post_json("/devices/wt", {"x": 1, "ts": 1})), "ran",
                         "a stale event changes nothing")
        self.r.set("wt:e", "1", px=50)
        self.assertEqual(attempt("wt:e", lambda: time.sleep(0.1)), "aborted", "an expiry")

    def test_writes_survive_restart_with_expiry(self):
        self.r.set("dur:a", "kept")
        self.r.set("dur:b", "ttl", ex=1000)
        self.r.set("dur:c", "short", px=300)
        self.assertEqual(self.ds.stop(), 0)
        time.sleep(0.4)  # let dur:c's time pass while the server is down
        self.ds.start()
        RespTest.r = redis.Redis(port=self.ds.resp_port, decode_responses=True)
        self.assertEqual(self.r.get("dur:a"), "kept")
        self.assertGreater(self.r.ttl("dur:b"), 990)
        self.assertIsNone(self.r.get("dur:c"))

    # --- limits and malformed input --------------------------------------------------------
    def test_pipelined_reads_after_writes_see_them_in_order(self):
        # Reads queued behind a write wait for its commit; when it lands, every one of them
        # must run and answer in order (a read answered at once used to let the next one be
        # skipped, and the connection hung).
        r = redis.Redis(port=self.ds.resp_port, decode_responses=True, socket_timeout=10)
        p = r.pipeline(transaction=False)
        p.get("pipe:a").set("pipe:b", "1").get("pipe:c").get("pipe:b")
        self.assertEqual(p.execute(), [None, True, None, "1"])
        import random
        rng = random.Random(7)
        model = {}
        for _ in range(20):
            p = r.pipeline(transaction=False)
            expected = []
            for _ in range(rng.randint(1, 64)):
                key = f"pipe:k{rng.randint(0, 4)}"
                op = rng.random()
                if op < 0.5:
                    p.get(key)
                    expected.append(model.get(key))
                elif op < 0.85:
                    value = str(rng.randint(0, 10**6))
                    p.set(key, value)
                    model[key] = value
                    expected.append(True)
                else:
                    p.delete(key)
                    expected.append(1 if model.pop(key, None) is not None else 0)
            self.assertEqual(p.execute(), expected)
        r.close()

    def test_long_pipeline_in_one_packet_answers_every_command_in_order(self):
        # Many commands in one read (more than the server parses ahead at once, with reads
        # whose keys it prefetches): every reply comes back in order; a protocol error at the
        # end is answered after all of them, then the connection closes; QUIT in the middle
        # runs nothing after it.
        def cmd(*args):
            return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        for i in range(0, 200, 2):
            self.r.set(f"{{pa}}:{i}", f"v{i}")
        request, expected = b"", b""
        for i in range(200):
            key = b"{pa}:%d" % i
            request += [cmd(b"GET", key), cmd(b"EXISTS", key),
                        cmd(b"MGET", key, b"{pa}:0", b"{pa}:nope")][i % 3]
            present = i % 2 == 0
            value = b"$%d\r\nv%d\r\n" % (len(b"v%d" % i), i) if present else b"$-1\r\n"
            expected += [value, b":%d\r\n" % present, b"*3\r\n" + value + b"$2\r\nv0\r\n$-1\r\n"][i % 3]
        out = resp_exchange(self.ds.resp_port, request + b"*1\r\n+PING\r\n")
        self.assertEqual(out, expected + b"-ERR Protocol error: expected '$', got '+'\r\n")
        out = resp_exchange(self.ds.resp_port, cmd(b"GET", b"{pa}:0") + cmd(b"QUIT") + cmd(b"SET", b"pa:quit", b"x"))
        self.assertEqual(out, b"$2\r\nv0\r\n+OK\r\n")
        self.assertIsNone(self.r.get("pa:quit"))

    def test_malformed_protocol_gets_error_then_close(self):
        out = resp_exchange(self.ds.resp_port, b"*1\r\n+PING\r\n")
        self.assertEqual(out, b"-ERR Protocol error: expected '$', got '+'\r\n")
        out = resp_exchange(self.ds.resp_port, b"*x\r\n")
        self.assertEqual(out, b"-ERR Protocol error: invalid multibulk length\r\n")
        out = resp_exchange(self.ds.resp_port, b'SET a "unbalanced\r\n')
        self.assertEqual(out, b"-ERR Protocol error: unbalanced quotes in request\r\n")
        self.assertTrue(self.r.ping())

    def test_bulk_and_multibulk_limits(self):
        out = resp_exchange(self.ds.resp_port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$65537\r\n")
        self.assertEqual(out, b"-ERR Protocol error: invalid bulk length\r\n")
        out = resp_exchange(self.ds.resp_port, b"*1001\r\n")
        self.assertEqual(out, b"-ERR Protocol error: invalid multibulk length\r\n")
        self.assertTrue(self.r.set("lim:ok", "x" * 65536))
        self.assertEqual(len(self.r.get("lim:ok")), 65536)

    def test_query_buffer_limit_closes(self):
        # A command of 1000 arguments of 60 KB each never completes within 256 KB of query
        # buffer: the connection is closed when the buffer passes the limit.
        bulk = b"$60000\r\n" + b"x" * 60000 + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.ds.resp_port), timeout=5) as s:
            closed = False
            try:
                s.sendall(b"*1000\r\n")
                for _ in range(40):
                    s.sendall(bulk)
                closed = s.recv(100) == b""
            except OSError:
                closed = True
            self.assertTrue(closed)
        self.assertTrue(self.r.ping())

    def test_slow_reader_is_disconnected(self):
        self.r.set("big", "z" * 60000)
        with socket.create_connection(("127.0.0.1", self.ds.resp_port), timeout=10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            request = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200  # 12 MB of replies, never read
            s.sendall(request)
            wait_until(lambda: len(self.r.client_list()) >= 1 and not any(
                c["addr"] == "%s:%d" % s.getsockname() for c in self.r.client_list()), 20,
                "the slow reader to be disconnected")
        self.assertTrue(self.r.ping())

    def test_max_clients(self):
        held = [socket.create_connection(("127.0.0.1", self.ds.resp_port)) for _ in range(25)]
        try:
            replies = []
            for s in held:
                s.settimeout(0.2)
                try:
                    replies.append(s.recv(100))
                except socket.timeout:
                    replies.append(b"")
            self.assertIn(b"-ERR max number of clients reached\r\n", replies)
        finally:
            for s in held:
                s.close()
        wait_until(lambda: self.r.ping(), 5, "service after the cap frees")


class RespToolsTest(unittest.TestCase):
    def test_redis_benchmark_runs_clean(self):
        work = WorkDir("respbench")
        ds = Devstate(work.path)
        try:
            # Not MSET: its random keys span slots, which a cluster refuses (CROSSSLOT), and
            # redis-benchmark --cluster will not drive a one-shard cluster.
            out = subprocess.run(["redis-benchmark", "-p", str(ds.resp_port), "-t", "ping,set,get",
                                  "-P", "16", "-n", "20000", "-r", "10000", "-q"],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn("rror", out.stdout + out.stderr)
            for test in ("PING_INLINE", "PING_MBULK", "SET", "GET"):
                self.assertIn(f"{test}", out.stdout)
            self.assertEqual(out.stdout.count("requests per second"), 4)
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()

    def test_shutdown_stops_the_process_cleanly_and_loses_nothing(self):
        work = WorkDir("respshutdown")
        ds = Devstate(work.path)
        try:
            r = ds.redis()
            r.set("before-shutdown", "kept")
            self.assertEqual(r.save(), True)
            with self.assertRaisesRegex(redis.ResponseError, "No shutdown in progress"):
                r.execute_command("SHUTDOWN", "ABORT")
            r.shutdown(nosave=True)  # redis-py expects the connection to close, as it does
            self.assertEqual(ds.proc.wait(20), 0, "SHUTDOWN stops devstate as SIGTERM does")
            ds.log.close()
            ds.start()
            self.assertEqual(ds.redis().get("before-shutdown"), b"kept")
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()

    def test_busy_polling_stops_when_clients_stop_and_is_off_on_one_cpu(self):
        """After serving, a RESP thread polls for more (resp.busy_poll_us) and then sleeps:
        an idle server burns no CPU. With one CPU to run on it never polls."""
        def cpu_seconds(pid):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        work = WorkDir("resppoll")
        ds = Devstate(work.path, args=["--resp.busy_poll_us=10000"])  # the most it allows
        try:
            out = subprocess.run(["redis-benchmark", "-p", str(ds.resp_port), "-t", "get", "-n", "20000",
                                  "-c", "10", "-q"], capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            before = cpu_seconds(ds.proc.pid)
            time.sleep(1.0)  # a window of no requests, measured
            self.assertLess(cpu_seconds(ds.proc.pid) - before, 0.2)  # polling forever: ~1.0
            self.assertNotIn("no busy polling", tail(ds.log_path, 100))
        finally:
            self.assertEqual(ds.stop(), 0)
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})  # the child inherits the mask
        try:
            one = Devstate(work.path, args=["--resp.busy_poll_us=10000"], store_dir=os.path.join(work.path, "one"))
        finally:
            os.sched_setaffinity(0, cpus)
        try:
            self.assertEqual(subprocess.run(["redis-cli", "-p", str(one.resp_port), "PING"], capture_output=True,
                                            text=True, timeout=30).stdout.strip(), "PONG")
            self.assertIn("resp: one CPU to run on, so no busy polling", tail(one.log_path, 100))
        finally:
            self.assertEqual(one.stop(), 0)
            work.cleanup()

    def test_idle_timeout(self):
        work = WorkDir("respidle")
        ds = Devstate(work.path, args=["--resp.idle_timeout_s=1"])
        try:
            with socket.create_connection(("127.0.0.1", ds.resp_port), timeout=5) as s:
                started = time.monotonic()
                self.assertEqual(s.recv(10), b"")
                self.assertGreater(time.monotonic() - started, 0.8)
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()

    def test_config_set(self):
        """CONFIG SET changes maxclients, timeout and client-query-buffer-limit at run time,
        for connections already open too; fixed settings take only the value they have."""
        work = WorkDir("respconfig")
        ds = Devstate(work.path)
        r = redis.Redis(port=ds.resp_port, decode_responses=True)
        try:
            self.assertEqual(r.config_get("timeout"), {"timeout": "0"})
            # Fixed settings: their own value is accepted, another is refused; tools that
            # "set" these on connect keep working.
            self.assertTrue(r.config_set("appendfsync", "always"))
            self.assertTrue(r.config_set("save", ""))
            with self.assertRaisesRegex(redis.ResponseError, "possibly related to argument 'appendonly'"):
                r.config_set("appendonly", "no")
            with self.assertRaisesRegex(redis.ResponseError, "Unknown option or number of arguments for CONFIG SET - 'nosuch'"):
                r.config_set("nosuch", "1")
            with self.assertRaisesRegex(redis.ResponseError, "couldn't be parsed into an integer"):
                r.config_set("timeout", "soon")
            with self.assertRaisesRegex(redis.ResponseError, "must be between 1 and 1000000 inclusive"):
                r.config_set("maxclients", "0")
            # All or nothing: one bad pair and nothing changes.
            with self.assertRaises(redis.ResponseError):
                r.execute_command("CONFIG", "SET", "timeout", "5", "appendonly", "no")
            self.assertEqual(r.config_get("timeout"), {"timeout": "0"})

            # timeout reaches a connection opened before it, and 0 disarms it again.
            with socket.create_connection(("127.0.0.1", ds.resp_port), timeout=1.5) as idle:
                with self.assertRaises(socket.timeout):
                    idle.recv(10)  # idle for 1.5 s and open: no timeout yet
                self.assertTrue(r.config_set("timeout", "1"))
                self.assertEqual(r.config_get("timeout"), {"timeout": "1"})
                idle.settimeout(10)
                self.assertEqual(idle.recv(10), b"")  # now closed by the server
            self.assertTrue(r.config_set("timeout", "0"))
            with socket.create_connection(("127.0.0.1", ds.resp_port), timeout=1.5) as kept:
                with self.assertRaises(socket.timeout):
                    kept.recv(10)  # still open after the old 1 s timeout

            # maxclients: with the cap at the connections open now, the next one is refused.
            open_now = len(r.client_list())
            self.assertTrue(r.config_set("maxclients", str(open_now)))
            self.assertEqual(r.info("clients")["maxclients"], open_now)
            self.assertEqual(resp_exchange(ds.resp_port, b"PING\r\nQUIT\r\n"),
                             b"-ERR max number of clients reached\r\n")
            self.assertTrue(r.config_set("maxclients", "100"))
            self.assertEqual(resp_exchange(ds.resp_port, b"PING\r\nQUIT\r\n"), b"+PONG\r\n+OK\r\n")

            # client-query-buffer-limit, with Redis's memory units.
            self.assertTrue(r.config_set("client-query-buffer-limit", "128kb"))
            self.assertEqual(r.config_get("client-query-buffer-limit"), {"client-query-buffer-limit": "131072"})
            with socket.create_connection(("127.0.0.1", ds.resp_port), timeout=5) as s:
                closed = False
                try:
                    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300000\r\n" + b"x" * 200000)
                    closed = s.recv(100) == b""
                except OSError:
                    closed = True
                self.assertTrue(closed)  # 200 KB unparsed passes the 128 KB limit
            self.assertTrue(r.set("qb", "x" * 100000))  # a command that fits still does
        finally:
            r.close()
            self.assertEqual(ds.stop(), 0)
            work.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
