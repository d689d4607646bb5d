"""`c360 engine` refuses to start, with one line naming the problem, on a bad config (a bad
key, a file that cannot be read or parsed), a missing broker, a missing topic or input
topics that are not co-partitioned."""

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
