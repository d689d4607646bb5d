"""The engine's HTTP door (SPEC section 8): HTTPS from `http.tls_cert_file` and
`http.tls_key_file`, a bearer token on /api/ (`http.auth_token`), the Host check on a
loopback bind (421, `http.allowed_hosts`), the probes alone on `--admin-http`,
`http_requests_total{route,code}`, and bad HTTP settings refused in one line before
anything starts."""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAGE_TEST = os.path.join(ROOT, "tests", "web", "token_page.mjs")


def self_signed_certificate(directory):
    """A certificate for 127.0.0.1 and localhost, made by Debian's openssl."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def request(port, path, headers=None, tls_context=None, host="127.0.0.1"):
    """(status, headers, body) of a GET; `host` is the Host header sent."""
    if tls_context:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


class HttpSecurityTest(unittest.TestCase):
    def test_https_token_host_check_and_admin_listener(self):
        with t.broker(partitions=2) as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
            r = t.run_c360("gen", "--brokers", bootstrap, "--customers", "5", "--days", "10",
                           "--seed", "3")
            self.assertEqual(r.returncode, 0, r.stderr)
            cert, key = self_signed_certificate(tmp)
            config = os.path.join(tmp, "c360.yaml")
            with open(config, "w") as f:
                # The token from the environment, as a secret should come.
                f.write("http:\n  auth_token: ${env:C360_TEST_API_TOKEN}\n"
                        f"  tls_cert_file: {cert}\n"
                        f"  tls_key_file: {key}\n  allowed_hosts: [c360.test]\n")
            admin_port = t.free_port()
            engine = t.Engine(bootstrap, tmp + "/state", "secure", config=config,
                              extra=["--admin-http", f"127.0.0.1:{admin_port}"],
                              env={"C360_TEST_API_TOKEN": TOKEN}).start()
            try:
                port = engine.http_port()
                engine.wait_caught_up()
                tls = ssl.create_default_context(cafile=cert)
                auth = {"Authorization": f"Bearer {TOKEN}"}

                # HTTPS only on the main listener: a plain request gets no HTTP answer.
                with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
                    request(port, "/healthz")
                status, _, _ = request(port, "/healthz", tls_context=tls)
                self.assertEqual(status, 200)

                # The API needs the token; the page and the probes do not.
                status, headers, body = request(port, "/api/v1/summary", tls_context=tls)
                self.assertEqual(status, 401)
                self.assertEqual(headers.get("WWW-Authenticate"), 'Bearer realm="c360"')
                self.assertEqual(json.loads(body)["error"], "unauthorized")
                self.assertNotIn(TOKEN, body)
                status, _, _ = request(port, "/api/v1/summary", {"Authorization": "Bearer nope"},
                                       tls_context=tls)
                self.assertEqual(status, 401)
                status, _, body = request(port, "/api/v1/summary", auth, tls_context=tls)
                self.assertEqual(status, 200, body)
                self.assertIn("by_status", json.loads(body))
                status, _, body = request(port, "/", tls_context=tls)
                self.assertEqual(status, 200)
                self.assertIn("<html", body.lower())
                # In a browser: the page asks for the token, then shows the list.
                node = shutil.which("node")
                self.assertIsNotNone(node, "node is missing: run scripts/setup")
                page = subprocess.run([node, PAGE_TEST, f"https://127.0.0.1:{port}", TOKEN],
                                      capture_output=True, text=True, timeout=120)
                self.assertEqual(page.returncode, 0, page.stdout + page.stderr)

                # Host: ours, localhost and the allowed name pass; any other name is 421.
                for host, want in [(f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200),
                                   ("c360.test", 200), ("evil.example", 421),
                                   (f"evil.example:{port}", 421)]:
                    status, _, body = request(port, "/api/v1/summary", auth, tls_context=tls,
                                              host=host)
                    self.assertEqual(status, want, host)
                    if want == 421:
                        self.assertEqual(json.loads(body)["error"], "misdirected_request")

                # The admin listener: plain HTTP, probes and metrics only.
                status, _, _ = request(admin_port, "/healthz")
                self.assertEqual(status, 200)
                status, _, body = request(admin_port, "/readyz")
                self.assertEqual(status, 200, body)
                status, _, _ = request(admin_port, "/api/v1/summary", auth)
                self.assertEqual(status, 404)
                status, _, text = request(admin_port, "/metrics")
                self.assertEqual(status, 200)
                samples = t.metric_samples(text)
                self.assertGreaterEqual(
                    samples.get('c360_http_requests_total{code="401",route="/api/v1/summary"}'), 2)
                self.assertGreaterEqual(
                    samples.get('c360_http_requests_total{code="421",route="other"}'), 2)
                self.assertGreaterEqual(
                    samples.get('c360_http_requests_total{code="200",route="/api/v1/summary"}'), 4)
                self.assertGreaterEqual(
                    samples.get('c360_http_requests_total{code="404",route="other"}'), 1)
            finally:
                self.assertEqual(engine.stop(), 0)
            with open(tmp + "/state.log") as log:
                self.assertNotIn(TOKEN, log.read(), "the token never reaches the log")

    def test_bad_http_settings_are_one_line_before_anything_starts(self):
        with tempfile.TemporaryDirectory() as tmp:
            cases = [
                ("http:\n  auth_token: short\n", "http.auth_token"),
                ("http:\n  auth_token: ${env:C360_UNSET_TOKEN_VARIABLE}\n", "C360_UNSET_TOKEN_VARIABLE"),
                ("http:\n  allowed_hosts: [\"http://x.example\"]\n", "http.allowed_hosts"),
                (f"http:\n  tls_cert_file: {tmp}/missing.pem\n  tls_key_file: {tmp}/missing.key\n",
                 "http.tls_cert_file"),
                (f"http:\n  tls_cert_file: {tmp}/missing.pem\n", "http.tls_key_file"),
            ]
            for text, needle in cases:
                with open(tmp + "/c360.yaml", "w") as f:
                    f.write(text)
                r = t.run_c360("engine", "--brokers", "127.0.0.1:1", "--state-dir", tmp + "/state",
                               "--http", "127.0.0.1:0", "--config", tmp + "/c360.yaml")
                self.assertEqual(r.returncode, 2, r.stderr)
                lines = [line for line in r.stderr.splitlines() if line.startswith("c360 engine:")]
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn(needle, lines[0])
                self.assertFalse(os.path.exists(tmp + "/state"), "nothing started: " + text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
