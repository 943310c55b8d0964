#!/usr/bin/python3
"""No acknowledged MQTT event is lost when devstate is killed with SIGKILL mid-stream.

50,000 numbered QoS 1 events over 1,000 devices, from a publisher running flat out through
Mosquitto, while devstate ingests them with ack = after_commit; devstate is killed with
SIGKILL at random moments (5 times) and restarted. The broker redelivers whatever devstate
had not acknowledged, so at the end every device must stand at its last sequence number --
and, since each event also sets a field of its own (`e<seq>`), every single event must have
been applied. Redelivered events that were already applied change nothing (stale).
"""
import json
import os
import random
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import paho.mqtt.client as mqtt  # noqa: E402

from harness import Devstate, Mosquitto, WorkDir, wait_until  # noqa: E402

DEVICES = 1000
EVENTS_PER_DEVICE = 50  # 50,000 events
KILLS = 5


class MqttNoLossTest(unittest.TestCase):
    def test_kill9_mid_stream_loses_nothing(self):
        work = WorkDir("noloss")
        broker = Mosquitto(work.path)
        # DEVSTATE_TEST_ACK=on_receipt shows the test catching the loss that mode allows.
        ack = os.environ.get("DEVSTATE_TEST_ACK", "after_commit")
        ds = Devstate(work.path, broker=broker.uri, args=[f"--mqtt.ack={ack}"])
        ds.wait_ready()
        pub = mqtt.Client(client_id="noloss-pub", clean_session=True)
        pub.max_inflight_messages_set(1000)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        wait_until(pub.is_connected, 10, "the publisher connected")
        rng = random.Random(int(os.environ.get("SEED", "7")))
        try:
            published = threading.Event()

            def publish_all():
                infos = []
                for seq in range(1, EVENTS_PER_DEVICE + 1):
                    for d in range(DEVICES):
                        event = {"seq": seq, "ts": 1_700_000_000_000 + seq, f"e{seq}": 1}
                        infos.append(pub.publish(f"devices/nl-{d}/state", json.dumps(event), qos=1))
                for info in infos:
                    info.wait_for_publish(60)
                published.set()

            redelivered_stale = []
            t = threading.Thread(target=publish_all)
            t.start()
            total = DEVICES * EVENTS_PER_DEVICE
            for k in range(KILLS):
                # Kill once devstate has ingested a random share of the stream.
                target = total * (k + 1) // (KILLS + 2) + rng.randrange(0, total // 10)
                wait_until(lambda: self.ingested(ds) >= target, 60, f"{target} events ingested")
                if k > 0:
                    redelivered_stale.append(self.stale(ds))
                ds.kill9()
                ds.start()
            t.join(120)
            self.assertTrue(published.is_set(), "the broker acknowledged every publish")

            def all_done():
                return all(d and d["seq"] == EVENTS_PER_DEVICE for d in self.states(ds))

            wait_until(all_done, 120, "every device at its last sequence number")
            # Informational: a kill between a commit and its PUBACK makes the broker send
            # applied events again, which change nothing; how many depends on the instant.
            redelivered_stale.append(self.stale(ds))
            print(f"\nredelivered events that changed nothing, per restart: {redelivered_stale}",
                  file=sys.stderr)
            states = self.states(ds)
            for i in range(DEVICES):
                d = states[i]
                self.assertEqual(d["seq"], EVENTS_PER_DEVICE)
                missing = [s for s in range(1, EVENTS_PER_DEVICE + 1) if f"e{s}" not in d]
                self.assertEqual(missing, [], f"device nl-{i} lost events")
            self.assertEqual(ds.get_json("/deadletters")[1]["total"], 0)
        except BaseException:
            # Say what happened before the evidence is deleted.
            for name, path in (("devstate", ds.log_path), ("mosquitto", os.path.join(broker.dir, "log"))):
                try:
                    with open(path, errors="replace") as f:
                        print(f"--- {name} log (tail) ---\n" + "".join(f.readlines()[-40:]), file=sys.stderr)
                except OSError:
                    pass
            try:
                seqs = [(d or {}).get("seq") for d in self.states(ds)]
                print("--- device seqs ---", seqs, file=sys.stderr)
            except OSError as e:
                print(f"--- devstate unreachable: {e}", file=sys.stderr)
            raise
        finally:
            pub.loop_stop()
            pub.disconnect()
            ds.stop()
            broker.stop()
            work.cleanup()

    @staticmethod
    def states(ds):
        """Every device's state (None when absent), read in one pipelined round trip."""
        r = ds.redis()
        pipe = r.pipeline(transaction=False)
        for i in range(DEVICES):
            pipe.get(f"device:nl-{i}:latest")
        return [json.loads(v) if v else None for v in pipe.execute()]

    @classmethod
    def ingested(cls, ds):
        """Events applied so far, counted from the devices' sequence numbers."""
        return sum(d["seq"] for d in cls.states(ds) if d)

    @staticmethod
    def stale(ds):
        """Events this process found already applied (redeliveries), from /metrics."""
        status, _, body = ds.get("/metrics")
        m = re.search(rb'devstate_ingest_events_total\{outcome="stale"\} (\d+)', body)
        return int(m.group(1)) if m else 0


if __name__ == "__main__":
    unittest.main(verbosity=2)
