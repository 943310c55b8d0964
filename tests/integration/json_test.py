"""JSON documents (issue 23): redis-py's JSON client against a real devstate process.

JSON.SET/GET/MGET/DEL/TYPE/NUMINCRBY/STRLEN/OBJKEYS/OBJLEN/ARRAPPEND/ARRINSERT/ARRPOP/
ARRTRIM/ARRINDEX/ARRLEN/RESP/DEBUG MEMORY with JSONPath
($.a.b, $.a[0], $..x) and legacy paths (.a.b); reads on a device record's state and its
writes refused; WRONGTYPE both ways; every limit answered with an error while other
clients are served; documents that survive a restart and kill -9; MULTI/WATCH; keyspace
events. Run with /usr/bin/python3.
"""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Devstate, WorkDir, wait_until  # noqa: E402

import redis  # noqa: E402
from redis.commands.json.path import Path  # noqa: E402

MAX_BULK = 65536


class JsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("json")
        cls.ds = Devstate(cls.work.path, args=[f"--limits.max_bulk_bytes={MAX_BULK}"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def setUp(self):
        self.r = self.ds.redis(decode_responses=True)
        self.j = self.ds.redis(decode_responses=True).json()
        self.plain = self.ds.redis(decode_responses=True)  # replies as the server sent them

    def raw(self, *args):
        return self.plain.execute_command(*args)

    def test_documents_through_the_json_client(self):
        doc = {"a": {"b": 7, "x": 1, "list": [10, 20, {"x": 2}]}, "s": "hi", "x": 0, "t": True}
        self.assertTrue(self.j.set("doc:{1}", Path.root_path(), doc))
        self.assertEqual(self.j.get("doc:{1}"), doc, "no path: the whole document")
        self.assertEqual(self.j.get("doc:{1}", "$.a.b"), [7])
        self.assertEqual(self.j.get("doc:{1}", "$.a.list[0]"), [10])
        self.assertEqual(self.j.get("doc:{1}", "$.a.list[-1].x"), [2])
        self.assertEqual(self.j.get("doc:{1}", "$..x"), [0, 1, 2])
        self.assertEqual(self.j.get("doc:{1}", ".a.b"), 7, "a legacy path reads one value")
        self.assertEqual(self.j.get("doc:{1}", "$.nope"), [])
        self.assertEqual(self.j.get("doc:{1}", ".s", "$.x"), {".s": ["hi"], "$.x": [0]})
        self.assertEqual(self.j.get("doc:{1}", ".s", ".x"), {".s": "hi", ".x": 0})
        self.assertEqual(self.raw("JSON.GET", "doc:{1}", "INDENT", "\t", "NEWLINE", "\n",
                                  "SPACE", " ", "$.a.list[2]"), '[\n\t{\n\t\t"x": 2\n\t}\n]')

        self.assertEqual(self.j.type("doc:{1}", "$..x"), ["integer", "integer", "integer"])
        self.assertEqual(self.j.type("doc:{1}", ".s"), "string")
        self.assertEqual(self.j.type("doc:{1}"), "object")
        self.assertEqual(self.r.type("doc:{1}"), "ReJSON-RL")
        self.assertEqual(self.r.object("encoding", "doc:{1}"), "raw")
        self.assertIn("doc:{1}", self.r.scan(0, _type="ReJSON-RL", count=1000)[1])

        self.assertEqual(self.j.numincrby("doc:{1}", "$..x", 2), [2, 3, 4])
        self.assertEqual(self.j.numincrby("doc:{1}", ".a.b", 0.5), 7.5)
        self.assertEqual(self.raw("JSON.NUMMULTBY", "doc:{1}", "$.x", "10"), "[20]")
        self.assertEqual(self.j.strlen("doc:{1}", "$.s"), [2])
        self.assertEqual(self.j.strappend("doc:{1}", "!", ".s"), 3)
        self.assertEqual(self.j.objkeys("doc:{1}", ".a"), ["b", "x", "list"])
        self.assertEqual(self.j.objlen("doc:{1}", "$.a"), [3])
        self.assertEqual(self.j.arrappend("doc:{1}", "$.a.list", 30, {"y": None}), [5])
        self.assertEqual(self.j.arrlen("doc:{1}", ".a.list"), 5)
        lens = self.j.arrlen("doc:{1}", "$..*")
        self.assertEqual([n for n in lens if n is not None], [5], "null where a match is no array")
        self.assertEqual(self.j.toggle("doc:{1}", "$.t"), [0])
        self.assertEqual(self.j.clear("doc:{1}", "$.a.list"), 1)
        self.assertEqual(self.j.get("doc:{1}", "$.a.list"), [[]])

        # NX / XX, members created where the parent exists, nothing where it does not.
        self.assertIsNone(self.j.set("doc:{1}", "$.s", "no", nx=True))
        self.assertIsNone(self.j.set("doc:{1}", "$.fresh", 1, xx=True))
        self.assertTrue(self.j.set("doc:{1}", "$.fresh", {"k": [1]}, nx=True))
        self.assertIsNone(self.j.set("doc:{1}", "$.missing.k", 1))
        self.assertTrue(self.j.set("doc:{1}", "$..k", "v"))
        self.assertEqual(self.j.get("doc:{1}", "$.fresh"), [{"k": "v"}])

        self.assertTrue(self.j.set("doc:{1}:b", "$", [1, 2]))
        self.r.set("plain:{1}", "text")
        self.assertEqual(self.j.mget(["doc:{1}", "none:{1}", "plain:{1}", "doc:{1}:b"], "$.s"),
                         [["hi!"], None, None, []])

        self.assertEqual(self.j.delete("doc:{1}", "$..k"), 1)
        self.assertEqual(self.j.get("doc:{1}", "$.fresh"), [{}])
        self.assertEqual(self.j.delete("doc:{1}", "$.a.list[0]"), 0, "nothing there")
        self.assertEqual(self.j.forget("doc:{1}", "$"), 1)
        self.assertEqual(self.r.exists("doc:{1}"), 0, "deleting the root deletes the key")
        self.assertIsNone(self.j.get("doc:{1}"))
        self.assertEqual(self.j.delete("doc:{1}"), 0)

    def test_redis_cli(self):
        def cli(*args):
            out = subprocess.run(["redis-cli", "-p", str(self.ds.resp_port), *args],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout.strip()
        self.assertEqual(cli("JSON.SET", "cli:doc", "$", '{"t":6.4,"tags":["a"]}'), "OK")
        self.assertEqual(cli("JSON.GET", "cli:doc", "$.t"), "[6.4]")
        self.assertEqual(cli("JSON.ARRAPPEND", "cli:doc", "$.tags", '"b"'), "2")
        self.assertEqual(cli("JSON.GET", "cli:doc", ".tags"), '["a","b"]')
        self.assertEqual(cli("JSON.TYPE", "cli:doc", ".t"), "number")
        self.assertIn("invalid JSONPath", cli("JSON.GET", "cli:doc", "$.a b"))
        self.assertEqual(cli("TYPE", "cli:doc"), "ReJSON-RL")

    def test_array_insert_pop_trim_and_index(self):
        """JSON.ARRINSERT/ARRPOP/ARRTRIM/ARRINDEX with RedisJSON 2.x's index rules, per match
        (JSONPath: null where a match is not an array) and legacy (the first match, errors)."""
        raw = self.raw
        self.assertEqual(raw("JSON.SET", "arr", "$", '{"a":[1,2,3],"e":[],"s":"x","n":{"a":[null]}}'), "OK")
        # ARRINSERT: before the index, negative from the end, within [-len, len].
        self.assertEqual(raw("JSON.ARRINSERT", "arr", "$.a", 0, '"z"'), [4])
        self.assertEqual(raw("JSON.ARRINSERT", "arr", "$.a", -1, 7, 8), [6])
        self.assertEqual(raw("JSON.ARRINSERT", "arr", "$.a", 6, '{"k":1}'), [7])
        self.assertEqual(self.j.get("arr", "$.a"), [["z", 1, 2, 7, 8, 3, {"k": 1}]])
        for index in (8, -8):
            with self.assertRaisesRegex(redis.ResponseError, "index out of bounds"):
                raw("JSON.ARRINSERT", "arr", "$.a", index, 0)
        self.assertEqual(raw("JSON.ARRINSERT", "arr", "$.e", -0, 1), [1])
        self.assertEqual(raw("JSON.ARRINSERT", "arr", "$.s", 0, 1), [None])
        self.assertEqual(raw("JSON.ARRINSERT", "arr", ".n.a", 1, "true"), 2)
        with self.assertRaisesRegex(redis.ResponseError, "expected array but found string"):
            raw("JSON.ARRINSERT", "arr", ".s", 0, 1)
        with self.assertRaises(redis.ResponseError):
            raw("JSON.ARRINSERT", "arr", "$.a", "x", 1)
        # ARRINDEX: [start, stop), stop 0 the end, negatives from the end, -1 when absent.
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", 2), [2])
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", '{"k":1}'), [6])
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", '"2"'), [-1], "a string is not the number")
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", 2, 3), [-1])
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", 3, -2), [5])
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", 3, 0, -2), [-1], "stop -2 ends before 3")
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", '"z"', -100), [0], "start clamps to 0")
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.a", '"z"', 100), [-1], "start clamps to the last")
        self.assertEqual(raw("JSON.ARRINDEX", "arr", "$.s", 1), [None])
        self.assertEqual(raw("JSON.ARRINDEX", "arr", ".n.a", "true"), 1)
        with self.assertRaisesRegex(redis.ResponseError, "expected array but found string"):
            raw("JSON.ARRINDEX", "arr", ".s", 1)
        # ARRPOP: the last by default, the index clamped into the array; the element's JSON
        # text; null for an empty array.
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.a"), ['{"k":1}'])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.a", 0), ['"z"'])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.a", 100), ["3"])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.a", -100), ["1"])
        self.assertEqual(self.j.get("arr", "$.a"), [[2, 7, 8]])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.e"), ["1"])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.e"), [None])
        self.assertEqual(raw("JSON.ARRPOP", "arr", "$.s"), [None])
        self.assertEqual(raw("JSON.ARRPOP", "arr", ".n.a"), "true")
        self.assertEqual(raw("JSON.ARRPOP", "arr", ".n.a"), "null", "a popped null is the text null")
        self.assertIsNone(raw("JSON.ARRPOP", "arr", ".n.a"))
        with self.assertRaisesRegex(redis.ResponseError, "expected array but found string"):
            raw("JSON.ARRPOP", "arr", ".s")
        self.assertEqual(raw("JSON.SET", "arr2", "$", "[1,2]"), "OK")
        self.assertEqual(raw("JSON.ARRPOP", "arr2"), "2", "the path defaults to the root")
        # ARRTRIM: MemoryDB's and RedisJSON's documented example, then the edges.
        self.assertEqual(raw("JSON.SET", "tr", "$", '[[], ["a"], ["a", "b"], ["a", "b", "c"]]'), "OK")
        self.assertEqual(raw("JSON.ARRTRIM", "tr", "$[*]", 0, 1), [0, 1, 2, 2])
        self.assertEqual(self.j.get("tr"), [[], ["a"], ["a", "b"], ["a", "b"]])
        for start, stop, want in ((1, 3, [1, 2, 3]), (-3, -2, [3, 4]), (2, 100, [2, 3, 4, 5]),
                                  (-100, 1, [0, 1]), (4, 2, []), (6, 9, []), (0, -100, [0])):
            raw("JSON.SET", "tr", "$", json.dumps({"c": list(range(6))}))
            self.assertEqual(raw("JSON.ARRTRIM", "tr", ".c", start, stop), len(want), (start, stop))
            self.assertEqual(self.j.get("tr", "$.c"), [want], (start, stop))
        self.assertEqual(raw("JSON.ARRTRIM", "tr", "$", 0, 1), [None])
        with self.assertRaisesRegex(redis.ResponseError, "expected array but found object"):
            raw("JSON.ARRTRIM", "tr", ".", 0, 1)
        with self.assertRaisesRegex(redis.ResponseError, "key that doesn't exist"):
            raw("JSON.ARRPOP", "nothing", "$")
        # Each is journaled: a restart keeps every edit.
        before = {k: self.j.get(k) for k in ("arr", "arr2", "tr")}
        self.ds.stop()
        self.ds.start()
        j = self.ds.redis(decode_responses=True).json()
        self.assertEqual({k: j.get(k) for k in ("arr", "arr2", "tr")}, before)

    def test_resp_form_and_debug_memory(self):
        """JSON.RESP answers a value in RedisJSON's RESP form; JSON.DEBUG MEMORY a size that
        grows with the value."""
        c = self.ds.redis()  # bytes, so a bulk "1" and an integer 1 differ
        self.assertTrue(c.execute_command("JSON.SET", "rf", "$",
                                          '{"a":[1,2.5,"x",null,true],"o":{"k":false},"u":18446744073709551615}'))
        self.assertEqual(c.execute_command("JSON.RESP", "rf", ".a"),
                         [b"[", 1, b"2.5", b"x", None, b"true"])
        self.assertEqual(c.execute_command("JSON.RESP", "rf", "$.o"), [[b"{", b"k", b"false"]])
        self.assertEqual(c.execute_command("JSON.RESP", "rf", "$.u"), [b"18446744073709551615"])
        whole = c.execute_command("JSON.RESP", "rf")
        self.assertEqual(whole[0], b"{")
        self.assertEqual(whole[1::2], [b"a", b"o", b"u"])
        self.assertIsNone(c.execute_command("JSON.RESP", "rf:none"))
        with self.assertRaisesRegex(redis.ResponseError, "does not exist"):
            c.execute_command("JSON.RESP", "rf", ".nope")
        small = c.execute_command("JSON.DEBUG", "MEMORY", "rf", ".o")
        whole_size = c.execute_command("JSON.DEBUG", "MEMORY", "rf")
        self.assertGreater(small, 0)
        self.assertGreater(whole_size, small)
        self.assertEqual(c.execute_command("JSON.DEBUG", "MEMORY", "rf", "$..k"), [16])
        self.assertEqual(c.execute_command("JSON.DEBUG", "MEMORY", "rf:none"), 0)
        self.assertEqual(len(c.execute_command("JSON.DEBUG", "HELP")), 2)
        for bad in (("JSON.DEBUG", "MEMORY"), ("JSON.DEBUG", "NOPE", "rf")):
            with self.assertRaisesRegex(redis.ResponseError, "unknown subcommand"):
                c.execute_command(*bad)
        self.r.set("rf:str", "x")
        with self.assertRaisesRegex(redis.ResponseError, "^WRONGTYPE"):
            c.execute_command("JSON.DEBUG", "MEMORY", "rf:str")

    def test_wrongtype_both_ways_and_legacy_errors(self):
        self.j.set("{wt}:json", "$", {"n": 1, "s": "x"})
        self.r.set("{wt}:str", "1")
        self.r.hset("{wt}:hash", "f", "v")
        for cmd in (("GET", "{wt}:json"), ("INCR", "{wt}:json"), ("HGET", "{wt}:json", "f"),
                    ("APPEND", "{wt}:json", "x"), ("JSON.GET", "{wt}:str"),
                    ("JSON.SET", "{wt}:hash", "$", "1"), ("JSON.ARRLEN", "{wt}:hash")):
            with self.assertRaisesRegex(redis.ResponseError, "^WRONGTYPE", msg=str(cmd)):
                self.raw(*cmd)
        self.assertEqual(self.r.mget("{wt}:json", "{wt}:str"), [None, "1"])
        with self.assertRaisesRegex(redis.ResponseError, "Path '.nope' does not exist"):
            self.j.get("{wt}:json", ".nope")
        with self.assertRaisesRegex(redis.ResponseError, "expected string but found integer"):
            self.j.strlen("{wt}:json", ".n")
        with self.assertRaisesRegex(redis.ResponseError, "expected a number but found string"):
            self.j.numincrby("{wt}:json", ".s", 1)
        self.assertEqual(self.j.numincrby("{wt}:json", "$.s", 1), [None])
        with self.assertRaisesRegex(redis.ResponseError, "must be created at the root"):
            self.j.set("{wt}:new", "$.a", 1)
        with self.assertRaisesRegex(redis.ResponseError, "key that doesn't exist"):
            self.j.numincrby("{wt}:new", "$.a", 1)
        self.assertIsNone(self.j.type("{wt}:new"))
        self.assertEqual(self.j.get("{wt}:json"), {"n": 1, "s": "x"}, "refused writes changed nothing")

    def test_device_records_answer_reads_and_refuse_writes(self):
        status, _ = self.ds.post_json("/devices/j7", {"ts": 1764496800000, "temperature": 6.4,
                                                      "status": "active", "loc": {"lat": 1.5}})
        self.assertEqual(status, 200)
        key = "device:j7:latest"
        self.assertEqual(self.raw("JSON.GET", key, "$.temperature"), "[6.4]")
        self.assertEqual(self.j.get(key, ".status"), "active")
        self.assertEqual(self.j.get(key, "$..lat"), [1.5])
        self.assertEqual(self.j.type(key, ".loc"), "object")
        self.assertEqual(self.j.objkeys(key, "$.loc"), [["lat"]])
        self.assertEqual(self.j.mget([key], ".deviceId"), ["j7"])
        before = self.ds.device("j7")
        for cmd in (("JSON.SET", key, "$.temperature", "1"), ("JSON.SET", key, "$", "{}"),
                    ("JSON.NUMINCRBY", key, "$.temperature", "1"), ("JSON.DEL", key, "$.status"),
                    ("JSON.ARRAPPEND", key, "$.x", "1"), ("JSON.CLEAR", key),
                    ("JSON.STRAPPEND", key, "$.status", '"x"'), ("JSON.TOGGLE", key, "$.t")):
            with self.assertRaisesRegex(redis.ResponseError, "is a device record: send it an event",
                                        msg=str(cmd)):
                self.raw(*cmd)
        self.assertEqual(self.ds.device("j7"), before, "the device record is untouched")

    def test_filter_expressions_read_and_write_what_they_select(self):
        doc = {"sensors": [{"id": "a", "t": 31.5, "on": True}, {"id": "b", "t": 12, "on": False},
                           {"id": "c", "t": 40, "alarm": {"level": 2}}], "limit": 30}
        self.assertTrue(self.j.set("flt:{1}", "$", doc))
        get = lambda path: json.loads(self.raw("JSON.GET", "flt:{1}", path))
        self.assertEqual(get("$.sensors[?(@.t > 30)].id"), ["a", "c"])
        self.assertEqual(get("$.sensors[?@.t > $.limit && @.on == true].id"), ["a"])
        self.assertEqual(get("$.sensors[?@.alarm].id"), ["c"])
        self.assertEqual(get("$.sensors[?!@.on].id"), ["c"])
        self.assertEqual(get('$.sensors[?(@.id == "b" || @.t == 40)].t'), [12, 40])
        self.assertEqual(get("$..[?@.level >= 2]"), [{"level": 2}])
        # Legacy paths answer the first match.
        self.assertEqual(self.j.get("flt:{1}", ".sensors[?(@.t < 20)].id"), "b")
        # Writes reach every place a filter selects, and only those.
        self.assertEqual(self.raw("JSON.NUMINCRBY", "flt:{1}", "$.sensors[?@.t >= 31.5].t", "1"), "[32.5,41]")
        self.assertTrue(self.j.set("flt:{1}", "$.sensors[?@.id == 'b'].on", True))
        self.assertEqual(self.j.delete("flt:{1}", "$.sensors[?@.alarm]"), 1)
        self.assertEqual(get("$.sensors[*].id"), ["a", "b"])
        self.assertEqual(get("$.sensors[*].on"), [True, True])
        # On a device record the reads take filters too.
        status, _ = self.ds.post_json("/devices/flt1", {"ts": 1764496800000, "temperature": 6.4,
                                                        "zones": [{"n": 1, "hot": False}, {"n": 2, "hot": True}]})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(self.raw("JSON.GET", "device:flt1:latest", "$.zones[?@.hot == true].n")), [2])
        # What is not offered is a clear error; the connection goes on.
        # Functions and RedisJSON's =~.
        self.assertEqual(get("$.sensors[?match(@.id, '[a-b]')].id"), ["a", "b"])
        self.assertEqual(get("$.sensors[?@.id =~ '(?i)^A'].id"), ["a"])
        self.assertEqual(get("$.sensors[?length(@.id) == 1 && count(@.*) > 1].id"), ["a", "b"])
        for path, why in (("$.sensors[?length(@) > 1 == 2]", "expected"),
                          ("$.sensors[?size(@) > 1]", "unknown function 'size'"),
                          ("$.sensors[?match(@.id, 'a') == true]", "is a test, not a value"),
                          ("$.sensors[?@..t == 1]", "singular query"),
                          ("$.sensors[?(@.t > 1]", "expected"),
                          ("$" + "[?@" * 33, "deeper than 32")):
            with self.assertRaisesRegex(redis.ResponseError, why, msg=path):
                self.raw("JSON.GET", "flt:{1}", path)
        self.assertEqual(self.r.ping(), True)

    def test_bad_input_and_limits_get_an_error_and_others_are_served(self):
        for bad in ("{a", "[1] [2]", "NaN", "", "1e888"):
            with self.assertRaisesRegex(redis.ResponseError, "^invalid JSON", msg=bad):
                self.raw("JSON.SET", "lim", "$", bad)
        for path, why in (("$.", "member name is missing"), ("$[?(@.a)", "expected"),
                          ("$['a", "not closed"), ("$[99999999999999999999]", "out of range"),
                          ("$" + ".a" * 257, "more than 256 segments")):
            with self.assertRaisesRegex(redis.ResponseError, why, msg=path):
                self.raw("JSON.GET", "lim", path)
        # Nesting: 128 levels are a document; a 129th level is refused, on SET and by edits.
        self.assertTrue(self.raw("JSON.SET", "lim", "$", "[" * 128 + "]" * 128))
        with self.assertRaisesRegex(redis.ResponseError, "deeper than 128"):
            self.raw("JSON.SET", "lim", "$", "[" * 129 + "]" * 129)
        self.j.set("lim", "$", {"a": [[]]})
        with self.assertRaisesRegex(redis.ResponseError, "deeper than 128"):
            self.raw("JSON.SET", "lim", "$.a[0]", "[" * 127 + "]" * 127)
        with self.assertRaisesRegex(redis.ResponseError, "deeper than 128"):
            self.raw("JSON.ARRAPPEND", "lim", "$.a[0]", "[" * 127 + "]" * 127)
        self.assertEqual(self.j.get("lim"), {"a": [[]]})
        # Size: a document may not outgrow proto-max-bulk-len.
        chunk = json.dumps("x" * (MAX_BULK // 4))
        self.raw("JSON.SET", "lim", "$", "[]")
        with self.assertRaisesRegex(redis.ResponseError, "exceed proto-max-bulk-len"):
            for _ in range(8):
                self.raw("JSON.ARRAPPEND", "lim", "$", chunk)
        self.assertLessEqual(len(self.raw("JSON.GET", "lim")), MAX_BULK)
        # Numbers: integers widen to doubles past 64 bits; a result past double is refused.
        self.j.set("lim", "$", {"n": 9223372036854775807, "f": 1e308})
        self.assertEqual(self.j.numincrby("lim", "$.n", 1), [9223372036854775808])
        self.assertEqual(self.j.numincrby("lim", "$.n", 18446744073709551615), [2.7670116110564327e19])
        with self.assertRaisesRegex(redis.ResponseError, "not a finite number"):
            self.raw("JSON.NUMMULTBY", "lim", "$.f", "10")
        self.assertEqual(self.j.get("lim", "$.f"), [1e308], "the refused operation changed nothing")
        with self.assertRaisesRegex(redis.ResponseError, "not a number"):
            self.raw("JSON.NUMINCRBY", "lim", "$.n", '"1"')

        # A path that multiplies what it reaches stops at its limit with an error; meanwhile
        # another client is served.
        level = list(range(100))
        doc = level
        for _ in range(100):
            doc = level + [doc]
        self.j.set("lim:wide", "$", doc)
        latencies = []
        stop = threading.Event()

        def ping():
            other = self.ds.redis()
            while not stop.is_set():
                t = time.monotonic()
                other.ping()
                latencies.append(time.monotonic() - t)
        t = threading.Thread(target=ping)
        t.start()
        try:
            with self.assertRaisesRegex(redis.ResponseError, "reaches more than 1000000 nodes"):
                self.raw("JSON.GET", "lim:wide", "$..*..*..*")
        finally:
            stop.set()
            t.join()
        self.assertTrue(latencies)
        self.assertEqual(self.r.ping(), True)

    def test_documents_survive_restart_and_kill9(self):
        work = WorkDir("json-restart")
        ds = Devstate(work.path)
        try:
            r = ds.redis(decode_responses=True)
            docs = {f"d:{i}": {"i": i, "tags": ["a", "b"][: i % 3], "nested": {"v": i * 1.5}}
                    for i in range(200)}
            for k, v in docs.items():
                r.json().set(k, "$", v)
            for i in range(0, 200, 2):
                r.json().numincrby(f"d:{i}", "$.i", 1000)
                docs[f"d:{i}"]["i"] += 1000
            r.json().set("ttl", "$", {"a": 1})
            r.expire("ttl", 1000)
            r.json().set("ttl", "$.a", 2)
            self.assertGreater(r.ttl("ttl"), 900, "an edit keeps the key's expiry")
            ds.stop()
            ds.start()
            r = ds.redis(decode_responses=True)
            self.assertEqual({k: r.json().get(k) for k in docs}, docs, "after a clean restart")
            self.assertGreater(r.ttl("ttl"), 900)
            r.json().arrappend("d:1", "$.tags", "z")
            docs["d:1"]["tags"].append("z")
            ds.kill9()
            ds.start()
            r = ds.redis(decode_responses=True)
            self.assertEqual({k: r.json().get(k) for k in docs}, docs, "after kill -9")
            self.assertEqual(r.type("d:1"), "ReJSON-RL")
        finally:
            ds.stop()
            work.cleanup()

    def test_a_small_edit_of_a_large_document_journals_the_edit(self):
        """JSON.SET of one member of a 100 KB document journals an RFC 6902 patch, not the
        document; every 64 patches (or once they add up to the document) it is written
        whole again. The documents read back the same after a restart and a kill -9."""
        def journal_end(store_dir):
            # Where the newest write-ahead log's data ends (it is preallocated: zeros after).
            logs = sorted(f for f in os.listdir(store_dir) if f.endswith(".log"))
            with open(os.path.join(store_dir, logs[-1]), "rb") as f:
                return len(f.read().rstrip(b"\0")), logs[-1]

        work = WorkDir("json-patch")
        ds = Devstate(work.path)
        try:
            r = ds.redis(decode_responses=True)
            doc = {"id": 7, "o": {"a": 1, "b": 2}, "big": ["x" * 100 for _ in range(1000)], "n": 0}
            r.json().set("big", "$", doc)
            before, log = journal_end(ds.store_dir)
            for i in range(50):
                r.json().set("big", "$.n", i)
                r.json().numincrby("big", "$.id", 1)
            doc["n"], doc["id"] = 49, 57
            after, log_after = journal_end(ds.store_dir)
            self.assertEqual(log_after, log)
            # 100 edits: whole, they would be 100 x 100 KB.
            self.assertLess(after - before, 100 * 1024, "each edit journals its patch alone")
            self.assertEqual(r.json().get("big"), doc)
            # Past 64 patches the document is written whole again, and patches start over.
            for i in range(100):
                r.json().arrappend("big", "$.big", i)
                doc["big"].append(i)
            # A reordered object is not a patch diff can rebuild: that write is whole.
            r.json().set("big", "$.o", {"b": 3, "a": 4})
            doc["o"] = {"b": 3, "a": 4}
            r.json().set("big", "$.o.c", [1, {"d": None}])
            doc["o"]["c"] = [1, {"d": None}]
            r.json().delete("big", "$.o.a")
            del doc["o"]["a"]
            want = json.dumps(doc, separators=(",", ":"))
            text = lambda: json.dumps(r.json().get("big"), separators=(",", ":"))  # noqa: E731 - keeps order
            self.assertEqual(text(), want)
            ds.stop()
            ds.start()
            r = ds.redis(decode_responses=True)
            self.assertEqual(text(), want, "after a restart, in order")
            r.json().set("big", "$.n", "last")
            ds.kill9()
            ds.start()
            r = ds.redis(decode_responses=True)
            self.assertEqual(r.json().get("big", "$.n"), ["last"], "after kill -9")
            self.assertEqual(r.json().arrlen("big", "$.big"), [1100])
        finally:
            ds.stop()
            work.cleanup()

    def test_transactions_watch_and_keyspace_events(self):
        self.j.set("tx:{j}", "$", {"n": 0})
        p = self.r.pipeline(transaction=True)
        p.json().numincrby("tx:{j}", "$.n", 5)
        p.json().set("tx:{j}", "$.m", "x")
        p.json().get("tx:{j}")
        self.assertEqual(p.execute(), [[5], True, {"n": 5, "m": "x"}])

        # A watched document changed by another client aborts EXEC.
        w = self.ds.redis(decode_responses=True)
        with w.pipeline(transaction=True) as p:
            p.watch("tx:{j}")
            self.r.json().numincrby("tx:{j}", "$.n", 1)
            p.multi()
            p.json().set("tx:{j}", "$.n", 100)
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(self.j.get("tx:{j}", ".n"), 6)

        self.r.config_set("notify-keyspace-events", "Ed")
        try:
            ps = self.ds.redis(decode_responses=True).pubsub()
            ps.psubscribe("__keyevent@0__:json.*")
            wait_until(lambda: self.r.execute_command("PUBSUB", "NUMPAT") >= 1, 5, "pattern")
            self.j.set("ev", "$", {"a": [1]})
            self.j.arrappend("ev", "$.a", 2)
            self.j.numincrby("ev", "$.a[0]", 1)
            self.raw("JSON.ARRINSERT", "ev", "$.a", 0, 5)
            self.raw("JSON.ARRPOP", "ev", "$.a")
            self.raw("JSON.ARRTRIM", "ev", "$.a", 0, 0)
            self.j.delete("ev", "$.a")
            with self.assertRaises(redis.ResponseError):
                self.j.numincrby("ev:none", "$.a", 1)  # refused: no event
            self.j.delete("ev")
            events = []
            deadline = time.monotonic() + 5
            while len(events) < 8 and time.monotonic() < deadline:
                m = ps.get_message(timeout=0.2)
                if m and m["type"] == "pmessage":
                    events.append((m["channel"].split(":", 1)[1], m["data"]))
            self.assertEqual(events, [("json.set", "ev"), ("json.arrappend", "ev"),
                                      ("json.numincrby", "ev"), ("json.arrinsert", "ev"),
                                      ("json.arrpop", "ev"), ("json.arrtrim", "ev"), ("json.del", "ev"),
                                      ("json.del", "ev")])
            ps.close()
        finally:
            self.r.config_set("notify-keyspace-events", "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
