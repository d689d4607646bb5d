"""The command line: --help everywhere, and one line naming the problem with exit code 2
for an unknown flag, a bad value or a missing required flag, before anything starts."""

import sys
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

COMMANDS = ["demo", "broker", "engine", "gen", "tail"]


class CliTest(unittest.TestCase):
    def assert_usage_error(self, args, must_name):
        r = t.run_c360(*args, timeout=30)
        self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: {r.stderr}")
        self.assertIn(must_name, lines[0], args)
        self.assertEqual(r.stdout, "", "nothing may start before flags are valid")

    def test_help_for_every_command(self):
        for command in [[]] + [[c] for c in COMMANDS]:
            r = t.run_c360(*command, "--help", timeout=30)
            self.assertEqual(r.returncode, 0, command)
            self.assertIn("Usage:", r.stdout, command)
            if command:
                self.assertIn(command[0], r.stdout)

    def test_unknown_flag(self):
        for command in COMMANDS:
            self.assert_usage_error([command, "--frobnicate", "1"], "--frobnicate")

    def test_unknown_command(self):
        self.assert_usage_error(["launch"], "launch")

    def test_missing_required_flag(self):
        for command in ["engine", "gen", "tail"]:
            self.assert_usage_error([command], "--brokers")

    def test_bad_values(self):
        cases = [
            (["broker", "--port", "70000"], "--port"),
            (["broker", "--partitions", "0"], "--partitions"),
            (["broker", "--partitions", "many"], "--partitions"),
            (["gen", "--brokers", "x:1", "--customers", "-5"], "--customers"),
            (["gen", "--brokers", "x:1", "--start", "2026-02-30"], "--start"),
            (["gen", "--brokers", "x:1", "--format", "xml"], "--format"),
            (["gen", "--brokers", "x:1", "--rate", "fast"], "--rate"),
            (["tail", "--brokers", "x:1", "--count", "-1"], "--count"),
            (["engine", "--brokers", "x:1", "--clock", "sundial"], "--clock"),
            (["engine", "--brokers", "x:1", "--output-format", "xml"], "--output-format"),
            (["engine", "--brokers", "x:1", "--http", "localhost"], "--http"),
            (["engine", "--brokers", "x:1", "--http", "127.0.0.1:99999"], "--http"),
            (["engine", "--brokers", "x:1", "--config", "/nonexistent/c360.yaml"], "--config"),
            (["demo", "--customers", "0"], "--customers"),
        ]
        for args, name in cases:
            with self.subTest(args=args):
                self.assert_usage_error(args, name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
