"""Pub/sub (issue 23): redis-py's PubSub against a real devstate process.

Channels, patterns and shard channels deliver to every subscriber, RESP3 connections get
pushes and may run other commands meanwhile, PUBSUB counts what is subscribed, and a
subscriber that does not read is disconnected at limits.max_pubsub_output_bytes while the
others get every message. Run with /usr/bin/python3.
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Devstate, EventStream, Raw, WorkDir, wait_until  # noqa: E402

import redis  # noqa: E402


def next_message(ps, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.2)
        if m and m["type"] not in ("subscribe", "psubscribe", "ssubscribe"):
            return m
    return None


class PubSubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("pubsub")
        cls.ds = Devstate(cls.work.path, args=["--limits.max_pubsub_output_bytes=1048576"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def test_client_tracking_invalidates_what_a_client_may_have_cached(self):
        """CLIENT TRACKING (server-assisted client-side caching): a RESP3 client is told,
        after the writer's own reply, when a key it read changes (once, until it reads the
        key again); REDIRECT sends RESP2 messages on __redis__:invalidate; BCAST tells
        each commit's keys per prefix in one message; OPTIN remembers only after CLIENT
        CACHING yes; FLUSHALL is told as null; a redirect target that goes away is told
        once; the remembered keys are counted and bounded; NOLOOP is refused."""
        port = self.ds.resp_port
        r = self.ds.redis()
        r.flushall()
        c = Raw(port)
        self.assertTrue(c.call("HELLO", "3").startswith(b"%"))
        self.assertEqual(c.call("CLIENT", "TRACKING", "on"), b"+OK\r\n")
        r.set("{c}a", "1")
        self.assertEqual(c.call("GET", "{c}a"), b"$1\r\n1\r\n")
        self.assertEqual(r.info("stats")["tracking_total_keys"], 1)
        self.assertEqual(r.info("clients")["tracking_clients"], 1)
        r.set("{c}a", "2")
        self.assertEqual(c.read(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\n{c}a\r\n")
        r.set("{c}a", "3")  # not read since: nothing more is told
        self.assertEqual(c.call("PING"), b"+PONG\r\n")
        # The writer itself: its reply first, then the invalidation.
        self.assertEqual(c.call("GET", "{c}a"), b"$1\r\n3\r\n")
        self.assertEqual(c.call("INCR", "{c}a"), b":4\r\n")
        self.assertEqual(c.read(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\n{c}a\r\n")
        # FLUSHALL: null.
        self.assertEqual(c.call("GET", "{c}a"), b"$1\r\n4\r\n")
        r.flushall()
        self.assertEqual(c.read(), b">2\r\n$10\r\ninvalidate\r\n_\r\n")
        self.assertEqual(r.info("stats")["tracking_total_keys"], 0)
        self.assertIn("NOLOOP is not supported",
                      c.call("CLIENT", "TRACKING", "on", "NOLOOP").decode())

        # REDIRECT to a RESP2 subscriber; BCAST gathers one commit's keys per prefix.
        target = Raw(port)
        target_id = int(target.call("CLIENT", "ID")[1:-2])
        target.call("SUBSCRIBE", "__redis__:invalidate")
        b = Raw(port)
        self.assertEqual(b.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "{c}x:",
                                "PREFIX", "{c}y:", "REDIRECT", target_id), b"+OK\r\n")
        self.assertIn(b"overlaps", b.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "{c}x"))
        r.mset({"{c}x:1": 1, "{c}x:2": 2, "{c}z:1": 3})
        head = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n"
        told = target.read()
        self.assertTrue(told.startswith(head), told)
        self.assertEqual(sorted(told[len(head):].split(b"\r\n")[1:4:2]), [b"{c}x:1", b"{c}x:2"])
        self.assertEqual(r.info("stats")["tracking_total_prefixes"], 2)
        b.call("CLIENT", "TRACKING", "off")

        # OPTIN: only the read after CLIENT CACHING yes is remembered.
        o = Raw(port)
        o.call("HELLO", "3")
        self.assertEqual(o.call("CLIENT", "TRACKING", "on", "OPTIN"), b"+OK\r\n")
        r.mset({"{c}o1": 1, "{c}o2": 2})
        o.call("GET", "{c}o1")
        self.assertEqual(o.call("CLIENT", "CACHING", "yes"), b"+OK\r\n")
        o.call("GET", "{c}o2")
        r.mset({"{c}o1": 5, "{c}o2": 6})
        self.assertEqual(o.read(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\n{c}o2\r\n")
        self.assertIn(b"only valid when tracking is enabled in OPTOUT",
                      o.call("CLIENT", "CACHING", "no"))

        # The redirect target goes away: the tracking client hears it once (RESP3).
        t2 = Raw(port)
        t2_id = int(t2.call("CLIENT", "ID")[1:-2])
        d = Raw(port)
        d.call("HELLO", "3")
        d.call("CLIENT", "TRACKING", "on", "REDIRECT", t2_id)
        d.call("GET", "{c}d")
        t2.close()
        wait_until(lambda: f"id={t2_id} " not in r.execute_command("CLIENT", "LIST").decode(),
                   10, "the target to go")
        r.set("{c}d", 1)
        self.assertEqual(d.read(), b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % t2_id)
        self.assertIn(b"broken_redirect", d.call("CLIENT", "TRACKINGINFO"))

        # The table's bound: lowering it tells (and forgets) what no longer fits.
        m = Raw(port)
        m.call("HELLO", "3")
        m.call("CLIENT", "TRACKING", "on")
        m.call("MGET", "{c}m1", "{c}m2", "{c}m3")
        r.config_set("tracking-table-max-keys", 1)
        told = {m.read() for _ in range(2)}
        self.assertEqual(len(told), 2)
        self.assertLessEqual(r.info("stats")["tracking_total_keys"], 1)
        r.config_set("tracking-table-max-keys", 1000000)

        # CLIENT REPLY ON answers +OK after OFF (as Redis), and pushes still arrive when off.
        q = Raw(port)
        q.call("HELLO", "3")
        q.call("CLIENT", "TRACKING", "on")
        q.call("GET", "{c}q")
        q.send("CLIENT", "REPLY", "OFF")
        r.set("{c}q", 1)
        self.assertEqual(q.read(), b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\n{c}q\r\n")
        self.assertEqual(q.call("CLIENT", "REPLY", "ON"), b"+OK\r\n")
        for conn in (c, target, b, o, d, m, q):
            conn.close()
        wait_until(lambda: r.info("clients")["tracking_clients"] == 0, 10, "tracking clients gone")

    def test_channels_and_patterns_deliver_to_every_subscriber(self):
        r = self.ds.redis()
        subs = []
        for _ in range(3):
            ps = self.ds.redis().pubsub()
            ps.subscribe("dev:alerts")
            subs.append(ps)
        pat = self.ds.redis().pubsub()
        pat.psubscribe("dev:*")
        wait_until(lambda: r.pubsub_numsub("dev:alerts")[0][1] == 3, 5, "3 subscribers")
        self.assertEqual(r.pubsub_numpat(), 1)
        self.assertEqual(r.publish("dev:alerts", "hot"), 4, "3 channel + 1 pattern deliveries")
        for ps in subs:
            m = next_message(ps)
            self.assertEqual((m["type"], m["channel"], m["data"]), ("message", b"dev:alerts", b"hot"))
        m = next_message(pat)
        self.assertEqual((m["type"], m["pattern"], m["channel"], m["data"]),
                         ("pmessage", b"dev:*", b"dev:alerts", b"hot"))
        self.assertIn(b"dev:alerts", r.pubsub_channels())
        self.assertEqual(r.pubsub_channels("nomatch*"), [])
        for ps in subs + [pat]:
            ps.close()
        wait_until(lambda: r.pubsub_numsub("dev:alerts")[0][1] == 0, 5, "subscribers gone")
        self.assertEqual(r.pubsub_numpat(), 0)
        self.assertEqual(r.publish("dev:alerts", "x"), 0)

    def test_keyspace_notifications_follow_committed_writes(self):
        r = self.ds.redis()
        self.assertEqual(r.config_get("notify-keyspace-events"), {"notify-keyspace-events": ""})
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            r.config_set("notify-keyspace-events", "KQ")
        self.assertIn("Invalid event class character", str(e.exception))
        r.config_set("notify-keyspace-events", "KEA")
        try:
            ps = self.ds.redis().pubsub()
            ps.psubscribe("__keyspace@0__:{n}*")
            self.assertEqual(ps.get_message(timeout=5)["type"], "psubscribe")
            r.set("{n}s", "1", ex=100)
            r.set("{n}s", "1", keepttl=True)  # the expiry stays: "set" alone, as in Redis
            r.incrby("{n}s", 2)
            r.hset("{n}h", "a", "1")
            with self.assertRaises(redis.exceptions.ResponseError):
                r.hset("{n}s", "a", "1")  # refused: WRONGTYPE, no event
            r.hdel("{n}h", "a")
            tx = r.pipeline()
            tx.set("{n}t", "1")
            tx.rename("{n}t", "{n}u")
            tx.execute()
            r.delete("{n}u", "{n}missing")
            r.pexpire("{n}s", 1)
            want = [("{n}s", "set"), ("{n}s", "expire"), ("{n}s", "set"), ("{n}s", "incrby"), ("{n}h", "hset"),
                    ("{n}h", "hdel"), ("{n}h", "del"), ("{n}t", "set"), ("{n}t", "rename_from"),
                    ("{n}u", "rename_to"), ("{n}u", "del"), ("{n}s", "expire"), ("{n}s", "expired")]
            got = []
            while len(got) < len(want):
                m = next_message(ps)
                self.assertIsNotNone(m, f"heard only {got}")
                got.append((m["channel"].decode().split(":", 1)[1], m["data"].decode()))
            self.assertEqual(got, want)
            # A device changed over HTTP: its key's event, and its new state on its channel.
            dev = self.ds.redis().pubsub()
            dev.psubscribe("device:*:changes")
            self.assertEqual(dev.get_message(timeout=5)["type"], "psubscribe")
            status, _ = self.ds.post_json("/devices/sensor-1", {"temperature": 6.5, "ts": 10})
            self.assertEqual(status, 200)
            m = next_message(dev)
            self.assertEqual(m["channel"], b"device:sensor-1:changes")
            self.assertEqual(json.loads(m["data"]),
                             {"deviceId": "sensor-1", "version": 1,
                              "state": self.ds.device("sensor-1")},
                             "the state GET /devices/sensor-1 serves")
            status, _ = self.ds.post_json("/devices/sensor-1", {"temperature": 1, "ts": 5})
            self.assertEqual(status, 200)
            self.assertIsNone(next_message(dev, timeout=0.5), "a stale event changes nothing")
            dev.close()
            ps.close()
        finally:
            r.config_set("notify-keyspace-events", "")

    def test_server_sent_events_follow_a_device_and_resume_from_its_state(self):
        self.assertEqual(self.ds.post_json("/devices/sse-1", {"t": 1, "ts": 1})[0], 200)
        es = EventStream(self.ds.http_port, "/devices/sse-1/events")
        try:
            self.assertEqual(es.status, 200)
            self.assertEqual(es.headers["Content-Type"], "text/event-stream")
            first = es.next_event()
            self.assertEqual((first["id"], first["event"]), ("1", "change"), "the current state first")
            self.assertEqual(json.loads(first["data"])["state"]["t"], 1)
            for t in (2, 3):
                self.assertEqual(self.ds.post_json("/devices/sse-1", {"t": t, "ts": t})[0], 200)
            self.assertEqual(self.ds.post_json("/devices/other", {"t": 9})[0], 200)
            self.assertEqual(self.ds.post_json("/devices/sse-1", {"t": 0, "ts": 0})[0], 200)  # stale
            got = [es.next_event() for _ in range(2)]
            self.assertEqual([e["id"] for e in got], ["2", "3"])
            self.assertEqual([json.loads(e["data"])["state"]["t"] for e in got], [2, 3])
            self.assertIsNone(es.next_event(timeout=0.5), "another device's, or a stale event")
        finally:
            es.close()
        # Reconnecting with Last-Event-ID: nothing repeated, the next change arrives.
        es = EventStream(self.ds.http_port, "/devices/sse-1/events", {"Last-Event-ID": "3"})
        try:
            self.assertIsNone(es.next_event(timeout=0.5), "version 3 was seen")
            self.assertEqual(self.ds.post_json("/devices/sse-1", {"t": 4, "ts": 4})[0], 200)
            self.assertEqual(es.next_event()["id"], "4")
        finally:
            es.close()
        # Missed changes: resuming from 2 gets the current state (4), once.
        es = EventStream(self.ds.http_port, "/devices/sse-1/events", {"Last-Event-ID": "2"})
        try:
            self.assertEqual(es.next_event()["id"], "4")
            self.assertIsNone(es.next_event(timeout=0.3))
        finally:
            es.close()
        # Every device whose id matches a glob.
        es = EventStream(self.ds.http_port, "/events?match=room-*")
        try:
            for d in ("room-1", "hall-1", "room-2"):
                self.assertEqual(self.ds.post_json(f"/devices/{d}", {"on": True})[0], 200)
            ids = [json.loads(es.next_event()["data"])["deviceId"] for _ in range(2)]
            self.assertEqual(ids, ["room-1", "room-2"])
        finally:
            es.close()
        self.assertEqual(self.ds.get("/devices/sse-1/events/x")[0], 404)
        self.assertEqual(self.ds.request("POST", "/devices/sse-1/events", "{}",
                                         {"Content-Type": "application/json"})[0], 405)

    def test_an_event_stream_that_is_not_read_is_cut_off(self):
        """A client that stops reading is disconnected once limits.max_pubsub_output_bytes
        (1 MiB here) of events wait for it; ingest never waits for it."""
        s = socket.create_connection(("127.0.0.1", self.ds.http_port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /events?match=flood-* HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: b"devstate_http_streams_dropped_total 0" in self.ds.get("/metrics")[2], 5,
                   "metrics")
        big = "x" * 16000  # 20 MB in all: more than the kernel's socket buffers take
        for batch in range(60):
            events = [{"deviceId": f"flood-{batch}-{i}", "blob": big} for i in range(20)]
            self.assertEqual(self.ds.post_json("/events", events)[0], 200)
        wait_until(lambda: b"devstate_http_streams_dropped_total 1" in self.ds.get("/metrics")[2],
                   10, "the stream dropped")
        s.close()

    def test_shard_channels(self):
        r = self.ds.redis()
        raw = Raw(self.ds.resp_port)
        try:
            self.assertEqual(raw.call("SSUBSCRIBE", "{d7}state"),
                             b"*3\r\n$10\r\nssubscribe\r\n$9\r\n{d7}state\r\n:1\r\n")
            self.assertEqual(r.execute_command("PUBSUB", "SHARDNUMSUB", "{d7}state"),
                             [b"{d7}state", 1])
            self.assertEqual(r.publish("{d7}state", "other namespace"), 0)
            self.assertEqual(r.execute_command("SPUBLISH", "{d7}state", "on"), 1)
            self.assertEqual(raw.call("PING"),
                             b"*3\r\n$8\r\nsmessage\r\n$9\r\n{d7}state\r\n$2\r\non\r\n",
                             "the message, then PING's answer")
            self.assertEqual(r.execute_command("PUBSUB", "SHARDCHANNELS"), [b"{d7}state"])
        finally:
            raw.close()

    def test_resp2_subscribers_speak_only_pubsub_and_resp3_ones_anything(self):
        raw = Raw(self.ds.resp_port)
        try:
            self.assertEqual(raw.call("SUBSCRIBE", "c1"), b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n")
            self.assertEqual(raw.call("GET", "k"),
                             b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                             b"PING / QUIT / RESET are allowed in this context\r\n")
            self.assertEqual(raw.call("PING"), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
            self.assertEqual(raw.call("RESET"), b"+RESET\r\n")
            self.assertEqual(raw.call("GET", "k"), b"$-1\r\n", "RESET unsubscribed")
        finally:
            raw.close()
        raw = Raw(self.ds.resp_port)
        try:
            raw.call("HELLO", "3")
            self.assertEqual(raw.call("SUBSCRIBE", "c3"), b">3\r\n$9\r\nsubscribe\r\n$2\r\nc3\r\n:1\r\n")
            self.assertEqual(raw.call("SET", "resp3k", "v"), b"+OK\r\n", "RESP3 may run commands")
            self.assertEqual(self.ds.redis().publish("c3", "m"), 1)
            self.assertEqual(raw.call("GET", "resp3k"),
                             b">3\r\n$7\r\nmessage\r\n$2\r\nc3\r\n$1\r\nm\r\n",
                             "the push arrives before the next reply")
            self.assertEqual(raw.read(), b"$1\r\nv\r\n", "then GET's own reply")
            # Data that looks like RESP is carried as it is.
            self.assertEqual(self.ds.redis().publish("c3", "$-1\r\n"), 1)
            self.assertEqual(raw.read(),
                             b">3\r\n$7\r\nmessage\r\n$2\r\nc3\r\n$5\r\n$-1\r\n\r\n")
            self.assertEqual(raw.call("UNSUBSCRIBE"),
                             b">3\r\n$11\r\nunsubscribe\r\n$2\r\nc3\r\n:0\r\n")
            self.assertEqual(raw.call("UNSUBSCRIBE"), b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")
        finally:
            raw.close()

    def test_a_subscriber_that_does_not_read_is_cut_off_and_others_get_everything(self):
        r = self.ds.redis()
        slow = socket.create_connection(("127.0.0.1", self.ds.resp_port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE flood\r\n")
        good = self.ds.redis().pubsub()
        good.subscribe("flood")
        wait_until(lambda: r.pubsub_numsub("flood")[0][1] == 2, 5, "2 subscribers")
        payload = "x" * 16384
        received = 0
        for i in range(4000):
            r.publish("flood", payload)
            while good.get_message(timeout=0) is not None:
                received += 1
        wait_until(lambda: r.pubsub_numsub("flood")[0][1] == 1, 10,
                   "the subscriber that does not read to be disconnected")
        deadline = time.monotonic() + 10
        while received < 4000 + 1 and time.monotonic() < deadline:  # + its subscribe confirmation
            if good.get_message(timeout=0.2) is not None:
                received += 1
        self.assertEqual(received, 4001, "the reading subscriber got every message")
        self.assertTrue(r.ping(), "publishers never wait for subscribers")
        good.close()
        slow.close()


if __name__ == "__main__":
    unittest.main()
