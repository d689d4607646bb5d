"""deploy/, Dockerfile and docker-compose.yml, checked with the real tools available here:
promtool (check config, check rules, test rules), Debian's docker-compose (config), dpkg
and ldd for the container image's runtime libraries, and the c360 binary for the flags the
compose file gives it. No Docker engine exists on this machine, so the image itself is not
built here (docs/deploy.md)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
# Present in every Debian image (essential or required by apt itself).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def run(*args, cwd=ROOT):
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=120)


class PrometheusFilesTest(unittest.TestCase):
    def test_promtool_accepts_the_config_and_the_rules(self):
        r = run("promtool", "check", "config", "prometheus/prometheus.yml", cwd=DEPLOY)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run("promtool", "check", "rules", "prometheus/alerts.yml", cwd=DEPLOY)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 12 rules found", r.stdout)

    def test_every_alert_rule_has_a_passing_unit_test(self):
        r = run("promtool", "test", "rules", "prometheus/alerts_test.yml", cwd=DEPLOY)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(DEPLOY, "prometheus/alerts.yml")) as f:
            rules = {rule["alert"] for g in yaml.safe_load(f)["groups"] for rule in g["rules"]}
        with open(os.path.join(DEPLOY, "prometheus/alerts_test.yml")) as f:
            tests = yaml.safe_load(f)["tests"]
        fired = {case["alertname"] for test in tests for case in test["alert_rule_test"]
                 if case.get("exp_alerts")}
        self.assertEqual(rules, fired, "each rule needs a case where it fires")

    def test_a_broken_rule_fails_its_unit_test(self):
        # The unit tests can fail: halve a threshold and promtool must object.
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(DEPLOY, "prometheus/alerts.yml")) as f:
                broken = f.read().replace("> 0.01", "> 0.2")
            with open(os.path.join(tmp, "alerts.yml"), "w") as f:
                f.write(broken)
            shutil.copy(os.path.join(DEPLOY, "prometheus/alerts_test.yml"), tmp)
            r = run("promtool", "test", "rules", "alerts_test.yml", cwd=tmp)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("C360DeadLettersRising", r.stdout + r.stderr)


class GrafanaFilesTest(unittest.TestCase):
    def test_dashboard_uses_a_datasource_variable_and_spec_names(self):
        # Every panel, target and variable reads "${datasource}", a variable of type
        # datasource: the dashboard imports into any Grafana (no hard-coded uid), and the
        # provisioned one picks its only Prometheus.
        uid = "${datasource}"
        with open(os.path.join(DEPLOY, "grafana/dashboards/c360.json")) as f:
            dashboard = json.load(f)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual((variables["datasource"]["type"], variables["datasource"]["query"]),
                         ("datasource", "prometheus"))
        self.assertEqual(variables["instance"]["datasource"]["uid"], uid)
        self.assertNotIn("c360-prometheus", json.dumps(dashboard))
        spec_names = {"c360_" + n for n in (
            "events_consumed_total", "events_deadlettered_total", "alerts_emitted_total",
            "event_processing_seconds", "event_to_alert_seconds", "consumer_lag", "customers",
            "stream_time_seconds", "outbox_pending", "state_commit_seconds",
            "rocksdb_live_data_bytes", "rocksdb_pending_compaction_bytes",
            "customers_by_segment", "revenue_at_risk_cents", "shadow_risk_abs_diff",
            "shadow_level_disagreements_total", "notifications_total",
            "notification_latency_seconds", "notify_pending")}
        # ... and the engine's further metrics that docs/deploy.md documents.
        with open(os.path.join(ROOT, "docs/deploy.md")) as f:
            documented = set(re.findall(r"`(c360_[a-z0-9_]+)`", f.read()))
        self.assertIn("c360_output_fence_seconds", documented)
        known = spec_names | documented
        titles = set()
        for panel in dashboard["panels"]:
            titles.add(panel["title"])
            if panel["type"] == "row":  # a heading between panels
                continue
            self.assertEqual(panel["datasource"]["uid"], uid, panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"]["uid"], uid, panel["title"])
                names = {re.sub(r"_(bucket|sum|count)$", "", n)
                         for n in re.findall(r"\bc360_[a-z0-9_]+", target["expr"])}
                self.assertTrue(names, f"{panel['title']}: no c360 metric in {target['expr']}")
                self.assertLessEqual(names, known, f"{panel['title']} uses an undocumented name")
        for wanted in ("Throughput per topic", "Consumer lag per topic", "Event to alert (p50, p99)",
                       "Alerts by rule and severity", "Customers by status",
                       "Dead letters by reason", "RocksDB size", "Stream time behind wall time",
                       "Customers by segment and status", "Revenue at risk by segment",
                       "Shadow churn model: risk-level disagreements",
                       "Notifications by route and outcome", "Notify pending"):
            self.assertIn(wanted, titles)


class ComposeTest(unittest.TestCase):
    def compose(self):
        r = run("docker-compose", "-f", "docker-compose.yml", "config")
        self.assertEqual(r.returncode, 0, r.stderr)
        return yaml.safe_load(r.stdout)

    def test_docker_compose_accepts_the_file_and_wires_every_part(self):
        services = self.compose()["services"]
        self.assertEqual(set(services), {"kafka", "topics", "engine", "engine-2", "generator",
                                         "notify", "prometheus", "grafana"})
        kafka = services["kafka"]
        self.assertTrue(kafka["image"].startswith("apache/kafka:"))
        self.assertEqual(kafka["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller")
        # Kafka's log lives in its volume, not in the image's /tmp.
        self.assertIn(f"kafka-data:{kafka['environment']['KAFKA_LOG_DIRS']}:rw", kafka["volumes"])
        # The generator replays history: only on request (profile demo).
        self.assertEqual(services["generator"]["profiles"], ["demo"])
        # Topic creation: every topic, one partition count (co-partitioned inputs, and a
        # changelog partition per task); the tables compacted, the changelog not.
        script = services["topics"]["command"][0]
        for topic in t.INPUT_TOPICS + t.OUTPUT_TOPICS + ["c360.changelog",
                                                         "c360.notify.deadletter"]:
            self.assertIn(topic, script)
        self.assertIn("create c360.health --config cleanup.policy=compact", script)
        self.assertIn("create c360.changelog --config cleanup.policy=delete", script)
        # Two engines of one group, each with its own state volume and host port, and
        # standby copies of each other's tasks.
        engines = [services["engine"], services["engine-2"]]
        self.assertEqual(engines[0]["command"], engines[1]["command"])
        self.assertNotEqual(engines[0]["volumes"][0], engines[1]["volumes"][0])
        config = engines[0]["command"][engines[0]["command"].index("--config") + 1]
        mounted = {v["target"] if isinstance(v, dict) else v.split(":")[1]: v for v in engines[0]["volumes"]}
        self.assertIn(config, mounted)
        self.assertEqual(mounted[config].split(":")[0] if isinstance(mounted[config], str)
                         else mounted[config]["source"], os.path.join(ROOT, "deploy/c360.yaml"))
        with open(os.path.join(ROOT, "deploy/c360.yaml")) as f:
            self.assertGreaterEqual(yaml.safe_load(f)["engine"]["standby_replicas"], 1)
        self.assertIn('--partitions "$$PARTITIONS"', script)  # $$: compose's escape
        self.assertEqual(services["engine"]["depends_on"]["topics"]["condition"],
                         "service_completed_successfully")
        # Only loopback on the host.
        for name, service in services.items():
            for port in service.get("ports", []):
                self.assertEqual(port.get("host_ip") if isinstance(port, dict) else
                                 port.split(":")[0], "127.0.0.1", name)
        # Prometheus and Grafana get deploy/'s files.
        mounts = {name: [v["source"] if isinstance(v, dict) else v.split(":")[0]
                         for v in s.get("volumes", [])] for name, s in services.items()}
        self.assertIn(os.path.join(ROOT, "deploy/prometheus"), mounts["prometheus"])
        self.assertIn(os.path.join(ROOT, "deploy/grafana/provisioning"), mounts["grafana"])
        self.assertIn(os.path.join(ROOT, "deploy/grafana/dashboards"), mounts["grafana"])

    def test_the_engine_accepts_the_flags_compose_gives_it(self):
        command = self.compose()["services"]["engine"]["command"]
        self.assertEqual(command[0], "engine")
        args = list(command)
        # Same flags, but a broker that is not there and a free port: a flag error would
        # exit 2 before anything starts; this must get as far as the broker (exit 1).
        args[args.index("--brokers") + 1] = f"127.0.0.1:{t.free_port()}"
        args[args.index("--http") + 1] = "127.0.0.1:0"
        args[args.index("--config") + 1] = os.path.join(ROOT, "deploy/c360.yaml")  # mounted
        with tempfile.TemporaryDirectory() as tmp:
            args[args.index("--state-dir") + 1] = tmp + "/state"
            r = t.run_c360(*args, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is a broker at", r.stderr)

    def test_kafka_has_a_listener_for_the_host(self):
        kafka = self.compose()["services"]["kafka"]
        env = kafka["environment"]
        self.assertIn("HOST://:19092", env["KAFKA_LISTENERS"])
        self.assertIn("HOST://127.0.0.1:19092", env["KAFKA_ADVERTISED_LISTENERS"])
        self.assertIn("HOST:PLAINTEXT", env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
        self.assertEqual(env["KAFKA_INTER_BROKER_LISTENER_NAME"], "PLAINTEXT")
        ports = [f'{p["host_ip"]}:{p["published"]}:{p["target"]}' if isinstance(p, dict)
                 else p.split("/")[0] for p in kafka["ports"]]
        self.assertIn("127.0.0.1:19092:19092", ports)

    def test_the_engines_healthcheck_passes_on_a_live_engine_and_fails_without(self):
        services = self.compose()["services"]
        check = services["engine"]["healthcheck"]["test"]
        self.assertEqual(check, services["engine-2"]["healthcheck"]["test"])
        self.assertEqual(check[:3], ["CMD", "bash", "-c"])
        with open(os.path.join(ROOT, "Dockerfile")) as f:
            dockerfile = f.read()
        self.assertIn("HEALTHCHECK", dockerfile)  # the same check for `docker run`
        self.assertIn("exec 3<>/dev/tcp/127.0.0.1/8080", dockerfile)
        port = t.free_port()
        script = check[3].replace("/127.0.0.1/8080", f"/127.0.0.1/{port}")
        self.assertNotEqual(subprocess.run(["bash", "-c", script], timeout=30).returncode, 0)
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
            engine = subprocess.Popen([t.C360, "engine", "--brokers", bootstrap, "--state-dir",
                                       tmp + "/state", "--http", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                t.wait_for(lambda: subprocess.run(["bash", "-c", script],
                                                  timeout=30).returncode == 0, 60,
                           "the healthcheck to pass")
            finally:
                engine.send_signal(signal.SIGTERM)
                engine.wait(timeout=60)

    def test_notify_in_compose_reads_its_config_and_is_scraped(self):
        services = self.compose()["services"]
        notify = services["notify"]
        self.assertEqual(notify["profiles"], ["notify"])  # it needs a receiver's secrets
        command = notify["command"]
        self.assertEqual(command[0], "notify")
        config = command[command.index("--config") + 1]
        mounted = {v["target"] if isinstance(v, dict) else v.split(":")[1]:
                   v["source"] if isinstance(v, dict) else v.split(":")[0]
                   for v in notify["volumes"]}
        self.assertEqual(mounted[config], os.path.join(ROOT, "deploy/notify.yaml"))
        port = command[command.index("--http") + 1].rsplit(":", 1)[1]
        with open(os.path.join(DEPLOY, "prometheus/prometheus.yml")) as f:
            jobs = {c["job_name"]: c for c in yaml.safe_load(f)["scrape_configs"]}
        self.assertEqual(jobs["c360-notify"]["static_configs"][0]["targets"], [f"notify:{port}"])
        # The same flags and file, with the secrets it reads from the environment: it gets
        # past its config to the broker (exit 1, not 2).
        args = list(command)
        args[args.index("--brokers") + 1] = f"127.0.0.1:{t.free_port()}"
        args[args.index("--http") + 1] = "127.0.0.1:0"
        args[args.index("--config") + 1] = os.path.join(ROOT, "deploy/notify.yaml")
        env = dict(os.environ, C360_WEBHOOK_URL="http://127.0.0.1:9/x",
                   C360_WEBHOOK_SECRET="compose-test-secret")
        r = subprocess.run([t.C360, *args], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("compose-test-secret", r.stderr)

    def test_prometheus_in_compose_scrapes_the_engine_service(self):
        with open(os.path.join(DEPLOY, "prometheus/prometheus.yml")) as f:
            config = yaml.safe_load(f)
        targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
        command = self.compose()["services"]["engine"]["command"]
        port = command[command.index("--http") + 1].rsplit(":", 1)[1]
        self.assertEqual(targets, [f"engine:{port}", f"engine-2:{port}"])


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(ROOT, "Dockerfile")) as f:
            self.text = f.read()
        self.stages = re.split(r"^FROM ", self.text, flags=re.M)[1:]

    def test_multi_stage_debian_12_non_root(self):
        self.assertEqual(len(self.stages), 2)
        self.assertTrue(self.stages[0].startswith("debian:12 AS build"))
        self.assertTrue(self.stages[1].startswith("debian:12-slim"))
        self.assertRegex(self.stages[1], r"(?m)^USER c360$")
        self.assertIn("scripts/setup --build-only", self.stages[0])
        self.assertNotIn("-dev", self.stages[1].split("apt-get install", 1)[1].split("&&")[0])

    def runtime_packages(self):
        install = self.stages[1].split("--no-install-recommends", 1)[1].split("&&")[0]
        return set(install.replace("\\", " ").split())

    def test_runtime_stage_installs_every_library_the_binary_links(self):
        ldd = run("ldd", t.C360)
        self.assertEqual(ldd.returncode, 0, ldd.stderr)
        if "libasan" in ldd.stdout:
            # scripts/test runs this test on the sanitizer build too, which links other
            # libraries (sanitizer runtimes, gflags) than the image's build; the run on the
            # normal build is the one that speaks for the image.
            self.skipTest("sanitizer build: not the image's link line")
        libraries = re.findall(r"=> (/\S+)", ldd.stdout)
        self.assertGreater(len(libraries), 5)
        needed = set()
        for library in libraries:
            owner = run("dpkg", "-S", os.path.realpath(library))
            if owner.returncode != 0:
                owner = run("dpkg", "-S", library)
            self.assertEqual(owner.returncode, 0, f"no Debian package owns {library}")
            needed.add(owner.stdout.split(":")[0])
        missing = needed - self.runtime_packages() - BASE_IMAGE_PACKAGES
        self.assertEqual(missing, set(), "libraries c360 links but the image does not install")

    def test_runtime_packages_exist_in_debian(self):
        for package in self.runtime_packages():
            r = run("apt-cache", "show", package)
            self.assertEqual(r.returncode, 0, f"{package} is not a Debian package")

    def test_vendored_chart_library_is_npms_pinned_file(self):
        # The binary embeds third_party/chart.js/ (so building needs no npm); it must be
        # byte for byte the file of the version the lockfile pins, which npm ci installed
        # after checking its sha512 integrity.
        with open(os.path.join(ROOT, "web/package-lock.json")) as f:
            packages = json.load(f)["packages"]
        pinned = packages["node_modules/chart.js"]["version"]
        installed = os.path.join(ROOT, "web/node_modules/chart.js")
        with open(os.path.join(installed, "package.json")) as f:
            self.assertEqual(json.load(f)["version"], pinned)
        with open(os.path.join(ROOT, "third_party/chart.js/README.md")) as f:
            self.assertIn(f"# Chart.js {pinned} (vendored)", f.read())
        for name in ("dist/chart.umd.min.js", "LICENSE.md"):
            with open(os.path.join(installed, name), "rb") as a, \
                    open(os.path.join(ROOT, "third_party/chart.js", os.path.basename(name)), "rb") as b:
                self.assertEqual(a.read(), b.read(), f"third_party/chart.js differs from npm's {name}")
        # The image build copies no node_modules and installs no Node.js.
        with open(os.path.join(ROOT, ".dockerignore")) as f:
            self.assertIn("web/node_modules", f.read().split())
        self.assertNotIn("npm", self.stages[0])

    def test_build_only_setup_builds_the_binary_without_test_tools(self):
        with open(os.path.join(ROOT, "scripts/setup")) as f:
            setup = f.read()
        build = re.search(r"build_packages=\((.*?)\)", setup, re.S).group(1).split()
        for test_only in ("libgtest-dev", "libbenchmark-dev", "python3", "prometheus", "chromium",
                          "nodejs", "npm"):
            self.assertNotIn(test_only, build)
        # --build-only stops before Node.js, npm and Maven.
        build_only_exit = setup.index('if [ "${1:-}" = "--build-only" ]; then exit 0; fi')
        self.assertLess(build_only_exit, setup.index("npm ci"))
        self.assertLess(build_only_exit, setup.index("mvn "))
        self.assertIn("-DC360_BUILD_TESTS=OFF", self.text)
        # ... and CMake configures that build without GoogleTest, benchmark or python3.
        with tempfile.TemporaryDirectory() as tmp:
            r = run("cmake", "-S", ROOT, "-B", tmp, "-G", "Ninja", "-DC360_BUILD_TESTS=OFF",
                    "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(tmp, "build.ninja")) as f:
                ninja = f.read()
            self.assertIn("build c360:", ninja)
            self.assertNotIn("gtest", ninja)
            self.assertNotIn("benchmark", ninja)


if __name__ == "__main__":
    unittest.main(verbosity=2)
