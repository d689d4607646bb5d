"""`c360 engine` refuses to start, with one line naming the problem, on a bad config (a bad
key, a file that cannot be read or parsed, a Kafka property librdkafka or c360 refuses, an
unset secret reference), a missing broker, a missing topic or input topics that are not
co-partitioned. A Kafka property's value never appears in what it prints."""

import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402


class EngineStartupTest(unittest.TestCase):
    def run_engine(self, bootstrap, config_text=None, timeout=60):
        with tempfile.TemporaryDirectory() as tmp:
            args = ["engine", "--brokers", bootstrap, "--state-dir", tmp + "/state",
                    "--http", "127.0.0.1:0"]
            if config_text is not None:
                with open(tmp + "/c360.yaml", "w") as f:
                    f.write(config_text)
                args += ["--config", tmp + "/c360.yaml"]
            return t.run_c360(*args, timeout=timeout)

    def assert_one_line(self, r, code, *needles):
        self.assertEqual(r.returncode, code, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.startswith("c360 engine:")]
        self.assertEqual(len(lines), 1, r.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_bad_config_key_exits_2_naming_it(self):
        r = self.run_engine("127.0.0.1:1", "engine:\n  batch_max_ms: soon\n")
        self.assert_one_line(r, 2, "engine.batch_max_ms", "soon")
        self.assertEqual(r.stderr.count("\n"), 1, "nothing starts before the config is valid")

    def test_unreadable_or_missing_config_file_exits_2_naming_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            for path in (tmp, tmp + "/nowhere.yaml"):  # a directory, a missing file
                r = t.run_c360("engine", "--brokers", "127.0.0.1:1", "--state-dir", tmp + "/state",
                               "--http", "127.0.0.1:0", "--config", path)
                self.assert_one_line(r, 2, path)
                self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        with tempfile.TemporaryDirectory() as tmp:  # not YAML at all
            r = self.run_engine("127.0.0.1:1", "engine: [unclosed\n")
            self.assert_one_line(r, 2, "c360.yaml")

    def test_missing_broker(self):
        r = self.run_engine(f"127.0.0.1:{t.free_port()}")
        self.assert_one_line(r, 1, "metadata")

    # The state directory (docs/state.md): one that is not c360's, has another format or
    # was built for another partition count is refused with exit code 2 and left as it
    # was; a new one is created owner-only, by default outside the working directory.
    def run_on_state_dir(self, state_dir, bootstrap="127.0.0.1:1", env=None):
        return subprocess.run([t.C360, "engine", "--brokers", bootstrap, "--state-dir", state_dir,
                               "--http", "127.0.0.1:0"], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, **(env or {})))

    def test_a_foreign_directory_is_refused_and_left_untouched(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = tmp + "/src"
            os.makedirs(src + "/lib")
            with open(src + "/main.cc", "w") as f:
                f.write("int main() {}\n")
            before = sorted(os.walk(src))
            r = self.run_on_state_dir(src)
            self.assert_one_line(r, 2, src, "is not a c360 state directory",
                                 "point --state-dir at a new or empty directory")
            self.assertEqual(sorted(os.walk(src)), before)  # nothing written, not even a marker

    def test_a_state_directory_of_another_format_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(tmp + "/C360-STATE", "w") as f:
                f.write("c360 state format 3\n")
            r = self.run_on_state_dir(tmp)
            self.assert_one_line(r, 2, tmp, "has format 3; this c360 reads formats 1 to 2")

    def wait_started(self, engine):
        def started():
            with open(engine.state_dir + ".log") as f:
                return "event=engine_started" in f.read()
        t.wait_for(started, 60, "the engine to start")

    def run_until_marked(self, args, marker, env, cwd):
        """Runs the engine until `marker` (its state dir's C360-STATE) exists, then stops it."""
        proc = subprocess.Popen([t.C360, "engine", *args, "--http", "127.0.0.1:0"], cwd=cwd,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        try:
            t.wait_for(lambda: os.path.exists(marker) or proc.poll() is not None, 60, marker)
            self.assertTrue(os.path.exists(marker), proc.stderr.read() if proc.poll() else "")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            proc.stderr.close()
        self.assertEqual(proc.returncode, 0)

    def test_a_new_state_directory_is_created_owner_only_and_by_default_outside_the_tree(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
            # Missing parents are created too, owner-only like the state directory.
            state = tmp + "/deep/er/state"
            self.run_until_marked(["--brokers", bootstrap, "--state-dir", state],
                                  state + "/C360-STATE", dict(os.environ), tmp)
            for d in (tmp + "/deep", tmp + "/deep/er", state):
                self.assertEqual(os.stat(d).st_mode & 0o777, 0o700, d)
            with open(state + "/C360-STATE") as f:
                self.assertEqual(f.read(), "c360 state format 2\n")
            # No --state-dir: $HOME/.local/state/c360/GROUP (a relative XDG_STATE_HOME is
            # ignored, as the XDG specification says), never the working directory.
            default = tmp + "/home/.local/state/c360/g-home"
            self.run_until_marked(["--brokers", bootstrap, "--group", "g-home"],
                                  default + "/C360-STATE",
                                  dict(os.environ, HOME=tmp + "/home", XDG_STATE_HOME="relative"),
                                  tmp)
            self.assertEqual(os.stat(default).st_mode & 0o777, 0o700)
            self.assertEqual(sorted(os.listdir(tmp)), ["deep", "home"])
            # $XDG_STATE_HOME/c360/GROUP when it is an absolute path.
            self.run_until_marked(["--brokers", bootstrap, "--group", "g-xdg"],
                                  tmp + "/xdg/c360/g-xdg/C360-STATE",
                                  dict(os.environ, HOME=tmp + "/home", XDG_STATE_HOME=tmp + "/xdg"),
                                  tmp)

    def test_a_changed_partition_count_is_refused_naming_both(self):
        with tempfile.TemporaryDirectory() as tmp:
            state = tmp + "/state"
            with t.broker(partitions=4) as (bootstrap, _):
                engine = t.Engine(bootstrap, state, "g-parts").start()
                self.wait_started(engine)
                self.assertEqual(engine.stop(), 0)
            with t.broker(partitions=8) as (bootstrap, _):
                r = self.run_on_state_dir(state, bootstrap)
                self.assert_one_line(r, 2, state, "built for input topics with 4 partitions",
                                     "now have 8")

    def test_missing_topic_and_co_partitioning(self):
        with t.broker(partitions=2) as (bootstrap, _):
            r = self.run_engine(bootstrap, "topics:\n  usage: other.usage\n")
            self.assert_one_line(r, 1, "do not exist", "other.usage")
            # A topic with another partition count (the mock creates it on first use).
            p = t.producer(bootstrap)
            p.produce("other.tickets", key="k", value=b"v")
            p.flush(10)
            r = self.run_engine(bootstrap, "topics:\n  tickets: other.tickets\n")
            self.assert_one_line(r, 1, "not co-partitioned", "other.tickets")

    def run_refused(self, config_text, env=None):
        """Runs the engine on `config_text` while this test holds its --http port (binding
        it would fail with a line of its own, so a line about the config shows the engine
        stopped before): the result, and whether the state dir exists afterwards."""
        with tempfile.TemporaryDirectory() as tmp, socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            with open(tmp + "/c360.yaml", "w") as f:
                f.write(config_text)
            clean = {k: v for k, v in os.environ.items() if k != "C360_TEST_SECRET"}
            r = subprocess.run(
                [t.C360, "engine", "--brokers", "127.0.0.1:1", "--state-dir", tmp + "/state",
                 "--http", f"127.0.0.1:{held.getsockname()[1]}", "--config", tmp + "/c360.yaml"],
                capture_output=True, text=True, timeout=60, env=dict(clean, **(env or {})))
            return r, os.path.exists(tmp + "/state")

    def assert_refused_before_start(self, r, state_created, *needles):
        self.assert_one_line(r, 2, *needles)
        self.assertFalse(state_created, "the state dir is created only after the config passed")
        self.assertNotIn("event=http_listening", r.stderr)

    def test_mistyped_kafka_property_exits_2_without_its_value(self):
        r, state_created = self.run_refused("kafka:\n  sasl.pasword: hunter2-secret\n")
        self.assert_refused_before_start(r, state_created, "kafka.sasl.pasword")
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertNotIn("hunter2", r.stdout + r.stderr)

    def test_kafka_properties_c360_sets_itself_are_refused_by_name(self):
        r, state_created = self.run_refused("kafka:\n  enable.idempotence: false\n")
        self.assert_refused_before_start(r, state_created, "kafka.enable.idempotence",
                                         "idempotent producer")
        r, state_created = self.run_refused("kafka:\n  group.id: x\n")
        self.assert_refused_before_start(r, state_created, "kafka.group.id", "--group")

    def test_unset_secret_variable_is_named(self):
        r, state_created = self.run_refused(
            "kafka:\n  sasl.password: ${env:C360_TEST_SECRET}\n")
        self.assert_refused_before_start(r, state_created, "kafka.sasl.password",
                                         "C360_TEST_SECRET")

    def test_properties_librdkafka_refuses_when_building_a_client_exit_2(self):
        # Each property alone is valid; the consumer cannot be built without its CA file.
        # The secret set beside them stays out of what the engine prints.
        r, state_created = self.run_refused(
            "kafka:\n  security.protocol: ssl\n  ssl.ca.location: /nonexistent/ca.pem\n"
            "  ssl.key.password: ${env:C360_TEST_SECRET}\n",
            env={"C360_TEST_SECRET": "hunter2-secret"})
        self.assert_refused_before_start(r, state_created, "ssl.ca.location")
        self.assertNotIn("hunter2", r.stdout + r.stderr)

    def test_secret_from_a_file_starts_the_engine_and_stays_out_of_its_log(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
            with open(tmp + "/password", "w") as f:
                f.write("hunter2-secret\n")  # as a mounted secret: one trailing newline
            with open(tmp + "/c360.yaml", "w") as f:
                f.write(f"kafka:\n  sasl.password: ${{file:{tmp}/password}}\n")
            engine = t.Engine(bootstrap, tmp + "/state", "g-secret", config=tmp + "/c360.yaml")
            engine.start()

            def log():
                with open(tmp + "/state.log") as f:
                    return f.read()
            try:
                t.wait_for(lambda: "event=engine_started" in log(), 30, "the engine to start")
            finally:
                self.assertEqual(engine.stop(), 0, log())
            self.assertNotIn("hunter2", log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
