#!/usr/bin/python3
"""A disk that fills: devstate's store on a small tmpfs of its own (the test mounts it, so it
must run as root, as CI does), written to until no space is left, over RESP and HTTP.

devstate must survive: writes refused with a clear error (RESP -MISCONF, HTTP 507), reads
served, /readyz saying why, nothing unacknowledged visible; when the tmpfs is grown, writes
resume without a restart; every acknowledged write survives a restart; and a restart on a
disk that is still full ends with exit code 2 and one line, not an abort."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import redis  # noqa: E402

from harness import Devstate, WorkDir, tail, wait_until  # noqa: E402


def mount_tmpfs(path, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)


class DiskFullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise RuntimeError("disk_full_test mounts a tmpfs and needs root (CI runs as root)")
        cls.work = WorkDir("diskfull")
        cls.mnt = os.path.join(cls.work.path, "mnt")
        os.makedirs(cls.mnt)
        mount_tmpfs(cls.mnt, "24m")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["umount", "-l", cls.mnt], check=False)
        cls.work.cleanup()

    def start(self, **kw):
        return Devstate(self.work.path, store_dir=os.path.join(self.mnt, "store"), **kw)

    def fill(self, r, prefix):
        """SETs of 4000-byte values until one is refused; returns (acknowledged keys, the
        refused key, the error)."""
        acked = []
        value = os.urandom(4000)
        for i in range(100000):
            key = f"{prefix}:{i}"
            try:
                r.set(key, value)
            except redis.ResponseError as e:
                return acked, key, str(e)
            acked.append(key)
        self.fail("the disk never filled")

    def test_fill_refuse_resume_restart(self):
        ds = self.start()
        try:
            r = redis.Redis(port=ds.resp_port)
            all_acked = []
            for round_ in range(2):
                acked, refused, error = self.fill(r, f"r{round_}")
                all_acked += acked
                self.assertTrue(error.startswith("MISCONF devstate cannot write: its disk is full"),
                                error)
                self.assertIsNone(ds.proc.poll(), "devstate died when its disk filled")
                # Reads go on; the refused write is not visible; writes say why.
                self.assertEqual(len(r.get(acked[-1])), 4000)
                self.assertIsNone(r.get(refused))
                with self.assertRaisesRegex(redis.ResponseError, "^MISCONF"):
                    r.set("more", "x")
                status, ready = ds.get_json("/readyz")
                self.assertEqual(status, 503)
                self.assertIn("No space left on device", ready["store"])
                status, body = ds.post_json("/devices/full-1", {"temperature": 1})
                self.assertEqual(status, 507, body)
                self.assertIn("No space", body["error"])
                status, body = ds.post_json("/events", [{"deviceId": "full-2", "t": 1}])
                self.assertEqual(status, 507, body)
                # Space comes back: writes resume by themselves, and the log says so.
                subprocess.run(["mount", "-o", f"remount,size={200 + 200 * round_}m", self.mnt],
                               check=True)
                def resumed():
                    try:
                        return r.set(f"resumed:{round_}", "1")
                    except redis.ResponseError:
                        return False
                wait_until(resumed, 30, "writes to resume")
                with open(ds.log_path) as f:
                    self.assertIn("writes resumed", f.read())
                # Fill the larger disk again in the second round.
                if round_ == 0:
                    subprocess.run(["mount", "-o", "remount,size=48m", self.mnt], check=False)
            self.assertEqual(ds.stop(), 0)
            ds.start()
            r = redis.Redis(port=ds.resp_port)
            for round_ in range(2):
                self.assertEqual(r.get(f"resumed:{round_}"), b"1")
            self.assertEqual(len(r.get("r0:0")), 4000)
            missing = [k for k in all_acked if r.get(k) is None]
            self.assertEqual(missing, [], "acknowledged writes lost")
        finally:
            if ds.proc.poll() is None:
                ds.stop()

    def test_restart_on_a_full_disk_exits_with_one_line(self):
        ds = self.start(args=["--log.level=warn"])
        r = redis.Redis(port=ds.resp_port)
        r.set("before", "1")
        self.assertEqual(ds.stop(), 0)
        filler = os.path.join(self.mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
        try:
            out = subprocess.run(
                [os.environ.get("DEVSTATE_BIN"), f"--store.dir={os.path.join(self.mnt, 'store')}",
                 "--http.port=0", "--resp.port=0", "--mqtt.broker=", "--log.level=off"],
                capture_output=True, text=True, timeout=30)
            # Opening RocksDB needs room (a new log, a flush): on a full disk devstate says so.
            self.assertEqual(out.returncode, 2, out.stderr)
            lines = out.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, out.stderr)
            self.assertIn("No space left on device", lines[0])
        finally:
            os.remove(filler)
        ds.start()
        self.assertEqual(redis.Redis(port=ds.resp_port).get("before"), b"1")
        self.assertEqual(ds.stop(), 0)


if __name__ == "__main__":
    unittest.main()
