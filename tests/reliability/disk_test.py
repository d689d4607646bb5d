"""Disk trouble (docs/reliability.md): a RocksDB write of a batch fails (injected with
C360_FAIL_POINT=commit:N, as a full or broken disk makes it fail). c360's choice: the
engine stops consuming at once and exits non-zero with one clear line (log
`event=engine_failed` and stderr), without publishing anything of the failed batch; the
state on disk is the last good commit, and a restart on the same directory resumes from
it: nothing lost, nothing counted twice (the state equals the oracle)."""

import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import oracle  # noqa: E402


class DiskTroubleTest(unittest.TestCase):
    def test_a_failed_commit_stops_the_engine_and_a_restart_resumes(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--customers", "200", "--events",
                             "40000", "--days", "20", "--seed", "9", "--start", "2026-06-01")
            self.assertEqual(gen.returncode, 0, gen.stderr)
            config = tmp + "/c360.yaml"
            with open(config, "w") as f:
                f.write("engine:\n  batch_max_records: 500\n")
            state = tmp + "/state"
            failing = t.Engine(bootstrap, state, "g-" + uuid.uuid4().hex, config=config,
                               env={"C360_FAIL_POINT": "commit:5"}).start()
            self.assertEqual(failing.proc.wait(timeout=120), 1)
            failing.stop()
            with open(state + ".log") as f:
                log = f.read()
            self.assertIn('event=engine_failed error="state commit failed: IO error: injected', log)
            applied, _ = t.applied_offsets(state)
            total = t.end_offsets(bootstrap, t.INPUT_TOPICS)
            self.assertGreater(applied, 0)       # the 4 good commits stay
            self.assertLess(applied, total)      # the failed one and what followed do not

            engine = t.Engine(bootstrap, state, "g-" + uuid.uuid4().hex, config=config).start()
            engine.wait_caught_up(timeout=120)
            self.assertEqual(engine.stop(), 0)
            expected, invisible = oracle.expected_state(bootstrap)
            actual = oracle.actual_state(t.dump_state(state), invisible)
            self.assertEqual([c for c in expected if actual.get(c) != expected[c]], [])
            self.assertEqual(len(actual), len(expected))


if __name__ == "__main__":
    unittest.main(verbosity=2)
