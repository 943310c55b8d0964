#!/usr/bin/python3
"""Security with real clients: TLS on the RESP and HTTP listeners (redis-py, redis-cli,
curl), ACL users from a Redis ACL file, HTTP Basic and Bearer, the pause after failed
authentication, and MQTT over TLS with a password towards a real Mosquitto.

The test makes its own CA with openssl: a server certificate for 127.0.0.1, a client
certificate from the same CA, and a second, untrusted CA with its own client certificate."""
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import paho.mqtt.client as mqtt  # noqa: E402  Debian python3-paho-mqtt
import redis  # noqa: E402  Debian python3-redis
from redis.cluster import RedisCluster  # noqa: E402

from harness import Devstate, Mosquitto, WorkDir, raw_exchange, wait_until  # noqa: E402

ACL = """\
# devstate test users
user default off
user lambda-user on >example-password ~device:* &* +@all -@admin
user reader on >reader-password ~device:* +@read +@connection
user admin on #{admin_hash} ~* &* +@all
user disabled off >disabled-password ~* +@all
user temp on >temp-password ~* +@all
user one-device on >one-password ~device:d1:latest +@read +@connection
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """CA, server (127.0.0.1/localhost), client from the CA; a rogue CA and its client."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=devstate test {ca}", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("server", "ca", "server.ext"), ("client", "ca", "client.ext"),
                          ("rogue-client", "rogue-ca", "client.ext")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)
    return {n: os.path.join(d, n) for n in os.listdir(d)}


def sha256(text):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


def tls_socket(port, ca, cert=None, key=None, timeout=5):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def read_replies(sock, count, timeout=10):
    """Reads until `count` CRLF-terminated simple replies arrived (errors and +OK only)."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\r\n") < count and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("security")
        certs_dir = os.path.join(cls.work.path, "certs")
        os.makedirs(certs_dir)
        cls.certs = make_certs(certs_dir)
        cls.ca = cls.certs["ca.pem"]
        cls.acl_file = os.path.join(cls.work.path, "users.acl")
        with open(cls.acl_file, "w") as f:
            f.write(ACL.format(admin_hash=sha256("admin-password")))
        cls.tokens_file = os.path.join(cls.work.path, "tokens")
        with open(cls.tokens_file, "w") as f:
            f.write(f"reader #{sha256('reader-token-0123456789')}\nlambda-user lambda-token-0123456789\n")
        https = ssl.create_default_context(cafile=cls.ca)
        cls.ds = Devstate(cls.work.path, https=https, args=[
            "--resp.tls=true", "--http.tls=true", f"--tls.cert={cls.certs['server.pem']}",
            f"--tls.key={cls.certs['server.key']}", f"--tls.ca={cls.ca}", "--tls.verify_clients=optional",
            f"--acl.file={cls.acl_file}", f"--acl.tokens_file={cls.tokens_file}",
            "--acl.auth_failure_delay_ms=200"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def client(self, username=None, password=None, **kwargs):
        return redis.Redis(host="127.0.0.1", port=self.ds.resp_port, username=username, password=password,
                           ssl=True, ssl_ca_certs=self.ca, decode_responses=True, socket_timeout=10, **kwargs)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.ds.resp_port), "--tls", "--cacert", self.ca,
                              "--no-auth-warning", *args], capture_output=True, text=True, timeout=30)
        return out.stdout + out.stderr

    def curl(self, *args):
        out = subprocess.run(["curl", "-sS", "--cacert", self.ca, "-o", "/dev/null", "-w", "%{http_code}",
                              *args], capture_output=True, text=True, timeout=30)
        return out.stdout

    # --- the canonical client --------------------------------------------------------------
    def test_redis_cluster_snippet(self):
        state = {"status": "active", "temperature": 6.4, "lastSeenAt": "2026-11-22T10:00:00Z"}
        client = RedisCluster(host="127.0.0.1", port=self.ds.resp_port, username="lambda-user",
                              password="example-password", ssl=True, ssl_ca_certs=self.ca,
                              decode_responses=True)
        try:
            self.assertTrue(client.ping())
            self.assertTrue(client.set("device:123:latest", json.dumps(state)))
            self.assertEqual(json.loads(client.get("device:123:latest")), state)
        finally:
            client.close()

    def test_redis_cli_and_hello_auth(self):
        self.assertIn("PONG", self.cli("--user", "lambda-user", "--pass", "example-password", "ping"))
        self.assertIn("lambda-user", self.cli("--user", "lambda-user", "--pass", "example-password",
                                              "acl", "whoami"))
        self.assertIn("NOAUTH Authentication required.", self.cli("ping"))
        with tls_socket(self.ds.resp_port, self.ca) as s:
            s.sendall(b"HELLO 3 AUTH lambda-user wrong\r\n")
            self.assertTrue(s.recv(4096).startswith(b"-WRONGPASS invalid username-password pair"))
            s.sendall(b"HELLO 3\r\n")
            self.assertTrue(s.recv(4096).startswith(b"-NOAUTH HELLO must be called"))
            s.sendall(b"HELLO 3 AUTH lambda-user example-password\r\n")
            reply = s.recv(4096)
            self.assertTrue(reply.startswith(b"%7\r\n"), reply)
            s.sendall(b"ACL WHOAMI\r\n")
            self.assertEqual(s.recv(4096), b"$11\r\nlambda-user\r\n")

    # --- authentication failures -------------------------------------------------------------
    def test_wrong_unknown_and_disabled_users(self):
        for user, password in (("lambda-user", "wrong"), ("nobody", "example-password"),
                               ("disabled", "disabled-password"), ("default", "")):
            # redis-py 4.3 raises WRONGPASS as a plain ResponseError, as against Redis itself
            with self.assertRaisesRegex(redis.exceptions.ResponseError, "^WRONGPASS invalid", msg=user):
                self.client(user, password).ping()
        with self.assertRaises(redis.exceptions.AuthenticationError):
            self.client().ping()  # no credentials: NOAUTH
        out = self.cli("--user", "lambda-user", "--pass", "wrong", "ping")
        self.assertIn("WRONGPASS invalid username-password pair or user is disabled.", out)

    def test_failed_auth_pauses_only_that_connection(self):
        admin = self.client("admin", "admin-password")
        before = admin.execute_command("ACL", "LOG", "RESET")
        self.assertEqual(before, "OK")
        with tls_socket(self.ds.resp_port, self.ca) as s:
            started = time.monotonic()
            s.sendall(b"AUTH lambda-user guess\r\n" * 10)
            timing = {}

            def other_client():  # another connection is not slowed
                t = time.monotonic()
                self.assertTrue(self.client("lambda-user", "example-password").ping())
                timing["other"] = time.monotonic() - t

            t = threading.Thread(target=other_client)
            t.start()
            replies = read_replies(s, 10, timeout=20)
            elapsed = time.monotonic() - started
            t.join()
        self.assertEqual(replies.count(b"-WRONGPASS"), 10)
        self.assertGreaterEqual(elapsed, 9 * 0.2)  # at most one guess per 200 ms
        self.assertLess(timing["other"], 1.5)
        log = admin.execute_command("ACL", "LOG")
        auth = [dict(zip(e[::2], e[1::2])) for e in log]
        auth = [e for e in auth if e["reason"] == "auth" and e["username"] == "lambda-user"]
        self.assertEqual(len(auth), 1)
        self.assertEqual(auth[0]["count"], 10)
        self.assertNotIn("guess", json.dumps(log))  # passwords are never logged
        with open(self.ds.log_path) as f:
            self.assertNotIn("guess", f.read())
        status, _, body = self.ds.get("/metrics", {"Authorization": "Basic " + base64.b64encode(
            b"admin:admin-password").decode()})
        self.assertEqual(status, 200)
        failures = [l for l in body.decode().splitlines() if l.startswith("devstate_auth_failures_total")]
        self.assertGreaterEqual(float(failures[0].split()[1]), 10)
        admin.close()

    # --- permissions -------------------------------------------------------------------------
    def test_key_patterns_read_only_users_and_admin_commands(self):
        lam = self.client("lambda-user", "example-password")
        self.assertTrue(lam.set("device:7:latest", "{}"))
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError, "no permissions to access one of the keys"):
            lam.set("other:7", "x")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            lam.mset({"device:8:latest": "{}", "other:8": "{}"})
        self.assertIsNone(lam.get("device:8:latest"))  # the MSET wrote nothing
        for command in (("CLIENT", "LIST"), ("CONFIG", "GET", "maxclients"), ("ACL", "LIST"),
                        ("ACL", "LOG"), ("CLIENT", "KILL", "ID", "1")):
            with self.assertRaisesRegex(redis.exceptions.NoPermissionError, "has no permissions to run",
                                        msg=command):
                lam.execute_command(*command)
        self.assertTrue(lam.execute_command("CLIENT", "ID"))  # not admin

        reader = self.client("reader", "reader-password")
        self.assertEqual(reader.get("device:7:latest"), "{}")
        with self.assertRaisesRegex(redis.exceptions.NoPermissionError, "'set' command"):
            reader.set("device:7:latest", "x")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            reader.delete("device:7:latest")
        self.assertEqual(reader.get("device:7:latest"), "{}")

        # MULTI: a denied command aborts the whole transaction
        pipe = reader.pipeline(transaction=True)
        pipe.get("device:7:latest")
        pipe.set("device:7:latest", "y")
        with self.assertRaises(redis.exceptions.ResponseError):
            pipe.execute()
        self.assertEqual(lam.get("device:7:latest"), "{}")

        admin = self.client("admin", "admin-password")
        self.assertEqual(sorted(admin.execute_command("ACL", "USERS")),
                         ["admin", "default", "disabled", "lambda-user", "one-device", "reader", "temp"])
        listing = "\n".join(admin.execute_command("ACL", "LIST"))
        self.assertIn("user lambda-user on #" + sha256("example-password"), listing)
        self.assertNotIn("example-password", listing)
        self.assertIn("read", admin.execute_command("ACL", "CAT"))
        self.assertIn("get", admin.execute_command("ACL", "CAT", "read"))
        for c in (lam, reader, admin):
            c.close()

    def test_acl_load(self):
        admin = self.client("admin", "admin-password")
        temp = self.client("temp", "temp-password")
        self.assertTrue(temp.ping())
        with open(self.acl_file) as f:
            original = f.read()
        try:
            with open(self.acl_file, "w") as f:
                f.write(original.replace("user temp", "user renamed") + "user newcomer on >new ~* +@all\n")
            self.assertEqual(admin.execute_command("ACL", "LOAD"), "OK")
            self.assertTrue(self.client("newcomer", "new").ping())
            # a connection whose user is gone must authenticate again
            with self.assertRaises(redis.exceptions.AuthenticationError):
                temp.ping()
            with open(self.acl_file, "w") as f:
                f.write(original + "user broken on +@nosuchcategory\n")
            with self.assertRaisesRegex(redis.exceptions.ResponseError, "users.acl:9"):
                admin.execute_command("ACL", "LOAD")
            self.assertTrue(self.client("newcomer", "new").ping())  # a bad file changes nothing
        finally:
            with open(self.acl_file, "w") as f:
                f.write(original)
            admin.execute_command("ACL", "LOAD")
            admin.close()
        self.assertTrue(self.client("temp", "temp-password").ping())

    # --- TLS ---------------------------------------------------------------------------------
    def test_plaintext_against_tls_ports(self):
        out = raw_exchange(self.ds.resp_port, b"AUTH lambda-user example-password\r\nPING\r\n", timeout=3)
        self.assertNotIn(b"+OK", out)
        self.assertNotIn(b"PONG", out)
        out = raw_exchange(self.ds.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        self.assertNotIn(b"200 OK", out)
        # the server is fine afterwards
        self.assertTrue(self.client("lambda-user", "example-password").ping())
        self.assertEqual(self.ds.get("/healthz")[0], 200)

    def test_client_certificates(self):
        # optional: a trusted certificate is fine, an untrusted one is refused
        with tls_socket(self.ds.resp_port, self.ca, self.certs["client.pem"], self.certs["client.key"]) as s:
            s.sendall(b"AUTH lambda-user example-password\r\n")
            self.assertEqual(s.recv(100), b"+OK\r\n")
        with self.assertRaises((ssl.SSLError, ConnectionError, socket.timeout)):
            with tls_socket(self.ds.resp_port, self.ca, self.certs["rogue-client.pem"],
                            self.certs["rogue-client.key"]) as s:
                s.sendall(b"PING\r\n")  # TLS 1.3 reports the refusal on the first read
                if s.recv(100) == b"":
                    raise ConnectionError("closed")
        # required: no certificate, no connection
        work = WorkDir("security-mtls")
        ds = Devstate(work.path, args=[
            "--resp.tls=true", f"--tls.cert={self.certs['server.pem']}", f"--tls.key={self.certs['server.key']}",
            f"--tls.ca={self.ca}", "--tls.verify_clients=yes"])
        try:
            with self.assertRaises((ssl.SSLError, ConnectionError, socket.timeout)):
                with tls_socket(ds.resp_port, self.ca) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(100) == b"":
                        raise ConnectionError("closed")
            r = redis.Redis(host="127.0.0.1", port=ds.resp_port, ssl=True, ssl_ca_certs=self.ca,
                            ssl_certfile=self.certs["client.pem"], ssl_keyfile=self.certs["client.key"])
            self.assertTrue(r.ping())
            r.close()
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()

    def test_old_protocols_are_refused(self):
        # openssl s_client at security level 0 can offer TLS 1.1; the server must refuse it
        # ("protocol version"), not the client ("no protocols available").
        for flag in ("-tls1", "-tls1_1"):
            out = subprocess.run(["openssl", "s_client", flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-connect",
                                  f"127.0.0.1:{self.ds.resp_port}"], input="", capture_output=True, text=True,
                                 timeout=30)
            text = out.stdout + out.stderr
            self.assertNotIn("no protocols available", text)
            self.assertIn("protocol version", text, flag)
        out = subprocess.run(["openssl", "s_client", "-tls1_2", "-CAfile", self.ca, "-connect",
                              f"127.0.0.1:{self.ds.resp_port}"], input="", capture_output=True, text=True, timeout=30)
        self.assertIn("Verify return code: 0 (ok)", out.stdout)
        self.assertRegex(out.stdout, r"Cipher is ECDHE-ECDSA-(AES\d+-GCM|CHACHA20)")

    # --- HTTP --------------------------------------------------------------------------------
    def test_event_streams_carry_only_what_the_user_may_read(self):
        url = f"https://127.0.0.1:{self.ds.http_port}"
        self.assertEqual(self.curl("-u", "one-device:one-password", f"{url}/devices/d2/events"), "403")
        self.assertEqual(self.curl("-u", "one-device:wrong", f"{url}/events"), "401")
        stream = subprocess.Popen(["curl", "-sSN", "--cacert", self.ca, "--max-time", "5", "-u",
                                   "one-device:one-password", f"{url}/events?match=*"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(stream.stdout.readline(), "retry: 1000\n")  # the stream is open
            body = json.dumps({"temperature": 1})
            post = ["-X", "POST", "-H", "Content-Type: application/json", "-d", body]
            for d in ("d2", "d1", "d3"):
                self.assertEqual(self.curl("-u", "lambda-user:example-password", *post,
                                           f"{url}/devices/{d}"), "200")
            out, _ = stream.communicate(timeout=15)
        finally:
            stream.kill()
        devices = [json.loads(line[6:])["deviceId"] for line in out.splitlines()
                   if line.startswith("data: ")]
        self.assertEqual(devices, ["d1"], out)

    def test_http_basic_and_bearer(self):
        url = f"https://127.0.0.1:{self.ds.http_port}"
        lam = self.client("lambda-user", "example-password")
        body = json.dumps({"status": "active", "temperature": 6.4})
        post = ["-X", "POST", "-H", "Content-Type: application/json", "-d", body]
        self.assertEqual(self.curl(f"{url}/devices/h2"), "401")
        self.assertEqual(self.curl("-u", "lambda-user:wrong", f"{url}/devices/h2"), "401")
        self.assertEqual(self.curl("-u", "lambda-user:example-password", *post, f"{url}/devices/h2"), "200")
        self.assertEqual(self.curl("-u", "reader:reader-password", f"{url}/devices/h2"), "200")
        self.assertEqual(self.curl("-u", "reader:reader-password", *post, f"{url}/devices/h2"), "403")
        self.assertEqual(self.curl("-H", "Authorization: Bearer reader-token-0123456789", f"{url}/devices/h2"), "200")
        self.assertEqual(self.curl("-H", "Authorization: Bearer reader-token-0123456789", *post,
                                   f"{url}/devices/h2"), "403")
        self.assertEqual(self.curl("-H", "Authorization: Bearer lambda-token-0123456789", *post,
                                   f"{url}/devices/h2"), "200")
        self.assertEqual(self.curl("-H", "Authorization: Bearer nope-nope-nope-nope", f"{url}/devices/h2"), "401")
        self.assertEqual(self.curl("-u", "lambda-user:example-password", f"{url}/deadletters"), "403")
        self.assertEqual(self.curl("-u", "admin:admin-password", f"{url}/deadletters"), "200")
        self.assertEqual(self.curl(f"{url}/healthz"), "200")
        self.assertEqual(self.curl(f"{url}/readyz"), "200")
        started = time.monotonic()
        self.assertEqual(self.curl("-u", "reader:wrong", f"{url}/devices/h2"), "401")
        self.assertGreaterEqual(time.monotonic() - started, 0.2)  # wrong credentials are slowed
        lam.close()

    # --- MQTT towards a broker with TLS and a password -----------------------------------------
    def test_mqtt_over_tls_with_password(self):
        work = WorkDir("security-mqtt")
        passwd = os.path.join(work.path, "mosquitto.passwd")
        subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, "devstate", "broker-secret"], check=True,
                       capture_output=True)
        os.chmod(passwd, 0o600)
        broker = Mosquitto(work.path, extra="\n".join([
            "allow_anonymous false", f"password_file {passwd}", f"cafile {self.ca}",
            f"certfile {self.certs['server.pem']}", f"keyfile {self.certs['server.key']}",
            "tls_version tlsv1.2"]))
        password_file = os.path.join(work.path, "mqtt-password")
        with open(password_file, "w") as f:
            f.write("broker-secret\n")
        uri = f"ssl://127.0.0.1:{broker.port}"
        ds = Devstate(work.path, broker=uri, args=[
            f"--mqtt.ca={self.ca}", "--mqtt.username=devstate", f"--mqtt.password_file={password_file}",
            "--mqtt.client_id=devstate-tls"])
        wrong = None
        try:
            ds.wait_ready()
            pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", self.ca,
                                  "-u", "devstate", "-P", "broker-secret", "-q", "1", "-t", "devices/m1/state",
                                  "-m", json.dumps({"status": "active", "temperature": 6.4})],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(pub.returncode, 0, pub.stderr)
            wait_until(lambda: (ds.device("m1") or {}).get("temperature") == 6.4, 20, "the MQTT event over TLS")
            # the wrong password never connects: readiness says why
            wrong_dir = os.path.join(work.path, "wrong")
            os.makedirs(wrong_dir)
            wrong = Devstate(wrong_dir, broker=uri, args=[
                f"--mqtt.ca={self.ca}", "--mqtt.username=devstate", "--mqtt.password=nope",
                "--mqtt.client_id=devstate-wrong"])
            def refused():
                with open(wrong.log_path) as f:
                    return "mqtt: cannot reach" in f.read()
            wait_until(refused, 20, "the broker refusing the wrong password")
            status, _, body = wrong.get("/readyz")
            self.assertEqual(json.loads(body)["mqtt"], "connecting")
            self.assertEqual(wrong.get("/readyz")[0], 503)
        finally:
            if wrong:
                self.assertEqual(wrong.stop(), 0)
            self.assertEqual(ds.stop(), 0)
            broker.stop()
            work.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
