#!/usr/bin/python3
"""No acknowledged MQTT event is lost when devstate is killed with SIGKILL mid-stream.

Many devices publish numbered QoS 1 events through Mosquitto while devstate ingests them
with ack = after_commit; devstate is killed at a random moment (several times) and
restarted. The broker redelivers whatever devstate had not acknowledged, so at the end
every device must stand at its last sequence number -- and, since each event also sets a
field of its own (`e<seq>`), every single event must have been applied.
"""
import json
import os
import random
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import paho.mqtt.client as mqtt  # noqa: E402

from harness import Devstate, Mosquitto, WorkDir, wait_until  # noqa: E402

DEVICES = 50
EVENTS_PER_DEVICE = 80  # 4,000 events
KILLS = 3


class MqttNoLossTest(unittest.TestCase):
    def test_kill9_mid_stream_loses_nothing(self):
        work = WorkDir("noloss")
        broker = Mosquitto(work.path)
        # DEVSTATE_TEST_ACK=on_receipt shows the test catching the loss that mode allows.
        ack = os.environ.get("DEVSTATE_TEST_ACK", "after_commit")
        ds = Devstate(work.path, broker=broker.uri, args=[f"--mqtt.ack={ack}"])
        ds.wait_ready()
        pub = mqtt.Client(client_id="noloss-pub", clean_session=True)
        pub.max_inflight_messages_set(500)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
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

            t = threading.Thread(target=publish_all)
            t.start()
            total = DEVICES * EVENTS_PER_DEVICE
            for k in range(KILLS):
                # Kill once devstate has ingested a random share of the stream.
                target = total * (k + 1) // (KILLS + 2) + rng.randrange(0, total // 10)
                wait_until(lambda: self.ingested(ds) >= target, 60, f"{target} events ingested")
                ds.kill9()
                ds.start()
            t.join(120)
            self.assertTrue(published.is_set(), "the broker acknowledged every publish")

            def all_done():
                return all((d := ds.device(f"nl-{i}")) and d["seq"] == EVENTS_PER_DEVICE
                           for i in range(DEVICES))

            wait_until(all_done, 120, "every device at its last sequence number")
            for i in range(DEVICES):
                d = ds.device(f"nl-{i}")
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
                seqs = {f"nl-{i}": (ds.device(f"nl-{i}") or {}).get("seq") for i in range(DEVICES)}
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
    def ingested(ds):
        """Events applied so far, counted from the devices' sequence numbers."""
        n = 0
        for i in range(DEVICES):
            d = ds.device(f"nl-{i}")
            n += d["seq"] if d else 0
        return n


if __name__ == "__main__":
    unittest.main(verbosity=2)
