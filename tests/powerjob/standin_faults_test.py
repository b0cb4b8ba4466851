"""The stand-in's faults, its control API and its command line, over real HTTP."""

import http.client
import json
import os
import subprocess
import time
import unittest

from standin_support import (APP, OTHER_WORKER, PASSWORD, STANDIN, WORKER, Standin,
                             StandinTestCase, process_alive, read_text, wait_until)

WAIT_FOR_FILE = 'echo $$ >> "{pid}"; while [ ! -e "{go}" ]; do sleep 0.02; done\n'


class FaultCases:
    """Fault cases that run against each profile. Subclasses set PROFILE."""

    # The 10 s, 30 s and 60 s server checks become 0.1 s, 0.3 s and 0.6 s.
    EXTRA_ARGS = ("--time-scale", "0.01")

    def test_no_worker_fails_instance(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"no-worker": True})
        instance_id = self.standin.run(job_id, f"touch '{self.path('ran')}'")
        info = self.standin.info(instance_id)
        self.assertEqual(info["status"], 4)
        self.assertEqual(info["result"], "no worker available")
        self.assertEqual(info["taskTrackerAddress"], "N/A")
        time.sleep(0.3)
        self.assertFalse(os.path.exists(self.path("ran")))

    def test_no_worker_with_address_takes_one_worker_offline(self):
        self.standin.set_faults({"no-worker": WORKER})
        pinned = self.standin.run(self.standin.save_shell_job(), "true")
        self.assertEqual(self.standin.info(pinned)["result"], "no worker available")
        free = self.standin.run(self.standin.save_shell_job(designatedWorkers=""), "true")
        self.assertEqual(self.standin.wait_status(free, {5})["taskTrackerAddress"], OTHER_WORKER)

    def test_overloaded_stays_waiting_until_cleared(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"overloaded": True})
        instance_id = self.standin.run(job_id, f"touch '{self.path('ran')}'")
        time.sleep(0.8)  # above the scaled 30 s re-dispatch age
        self.assertEqual(self.standin.status(instance_id), 1)
        self.standin.set_faults(clear=["overloaded"])
        self.assertEqual(self.standin.wait_status(instance_id, {5})["status"], 5)
        self.assertTrue(os.path.exists(self.path("ran")))

    def test_stuck_dispatch_stays_in_status_2(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"stuck-dispatch": True})
        instance_id = self.standin.run(job_id, f"echo run >> '{self.path('runs')}'")
        for _ in range(10):
            self.assertEqual(self.standin.status(instance_id), 2)
            time.sleep(0.1)
        self.assertIsNone(self.standin.instances()[instance_id]["pid"])
        self.assertIsNone(read_text(self.path("runs")))
        # Once workers receive again, the 60 s check (scaled) dispatches it anew.
        self.standin.set_faults(clear=["stuck-dispatch"])
        self.assertEqual(self.standin.wait_status(instance_id, {5})["status"], 5)
        self.assertEqual(read_text(self.path("runs")), "run\n")

    def test_duplicate_delivery_runs_script_twice(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"duplicate-delivery": 0.1})
        instance_id = self.standin.run(job_id, f"echo $$ >> '{self.path('runs')}'")
        self.assertTrue(wait_until(lambda: len((read_text(self.path("runs")) or "").split()) == 2))
        self.assertEqual(self.standin.wait_status(instance_id, {5})["runningTimes"], 1)
        pids = read_text(self.path("runs")).split()
        self.assertNotEqual(pids[0], pids[1])
        self.assertTrue(wait_until(lambda: len(self.standin.instances()[instance_id]["pids"]) == 2))

    def test_flip_running_reads_running_after_stop(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"flip-running": True})
        script = WAIT_FOR_FILE.format(pid=self.path("pid"), go=self.path("go"))
        instance_id = self.standin.run(job_id, script)
        self.standin.wait_status(instance_id, {3})
        sh_pid = self.standin.instances()[instance_id]["pid"]
        stop = {"instanceId": instance_id, "appId": 1}
        self.assertIsNone(self.standin.data(self.standin.post_form("stopInstance", stop)))
        self.assertEqual(self.standin.status(instance_id), 3)
        self.assertEqual(self.standin.status(instance_id), 3)
        self.assertTrue(process_alive(sh_pid))
        # A second stop reaches the worker: STOPPED stays and sh is killed.
        self.assertIsNone(self.standin.data(self.standin.post_form("stopInstance", stop)))
        self.assertEqual(self.standin.status(instance_id), 10)
        self.assertTrue(wait_until(lambda: not process_alive(sh_pid)))
        self.assertEqual(self.standin.status(instance_id), 10)

    def test_flip_running_count_limits_flips(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"flip-running": 2})
        instance_id = self.standin.run(job_id, WAIT_FOR_FILE.format(pid=self.path("pid"),
                                                                    go=self.path("go")))
        self.standin.wait_status(instance_id, {3})
        stop = {"instanceId": instance_id, "appId": 1}
        for expected in (3, 3, 10):
            self.standin.data(self.standin.post_form("stopInstance", stop))
            self.assertEqual(self.standin.info(instance_id)["status"], expected)

    def test_server_down_closes_connections(self):
        self.standin.set_faults({"server-down": True})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.standin.set_faults(clear=["server-down"])
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assertEqual(self.standin.data(reply), 1)

    def test_server_down_seconds_refuses_then_recovers(self):
        port = self.standin.port
        reply = self.standin.set_faults({"server-down": 1.0})
        self.addCleanup(wait_until, lambda: not self.refused(), 10)
        self.assertEqual(reply.status, 200)
        self.assertTrue(wait_until(lambda: self.refused(), timeout=3))
        reply = wait_until(lambda: None if self.refused() else self.standin.post_form(
            "assert", {"appName": APP, "password": PASSWORD}), timeout=10)
        self.assertIsNotNone(reply, "the stand-in did not listen again")
        self.assertEqual(self.standin.data(reply), 1)
        self.assertEqual(self.standin.port, port)
        faults = self.standin.request("GET", "/_standin/faults").json["faults"]
        self.assertNotIn("server-down", faults)

    def refused(self):
        """True while connections fail. One that reached the backlog just before the
        listener closed is reset instead of refused."""
        try:
            self.standin.request("GET", "/_standin/faults", timeout=1)
            return False
        except (ConnectionRefusedError, ConnectionResetError):
            return True

    def test_slow_delays_replies(self):
        self.standin.set_faults({"slow": 0.5})
        started = time.monotonic()
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.assertEqual(self.standin.data(reply), 1)
        started = time.monotonic()
        self.standin.calls()
        self.assertLess(time.monotonic() - started, 0.5, "the control API was delayed too")

    def test_slow_run_job_still_creates_instance(self):
        job_id = self.standin.save_shell_job()
        self.standin.set_faults({"slow": 1})
        with self.assertRaises(TimeoutError):
            self.standin.request("POST", "/openApi/runJob",
                                 f"appId=1&jobId={job_id}&instanceParams=true".encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"},
                                 timeout=0.3)
        self.assertTrue(wait_until(lambda: any(i["jobId"] == job_id
                                               for i in self.standin.instances().values())))


class Profile43FaultTest(FaultCases, StandinTestCase):
    PROFILE = "4.3"

    def test_reject_auth_fails_assert(self):
        self.standin.set_faults({"reject-auth": True})
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assert_failure(reply, "PowerJobException: password error!")


class Profile51FaultTest(FaultCases, StandinTestCase):
    PROFILE = "5.1"


class ControlApiTest(StandinTestCase):
    PROFILE = "5.1"

    def test_calls_count_operations_and_keep_params(self):
        before = self.standin.calls()["counts"].get("runJob", 0)
        job_id = self.standin.save_shell_job()
        self.standin.run(job_id, "echo one")
        self.standin.post_form("runJob", {"appId": 1, "jobId": 999})
        calls = self.standin.calls()
        self.assertEqual(calls["counts"]["runJob"], before + 2)
        runs = [call for call in calls["calls"] if call["op"] == "runJob"][-2:]
        self.assertEqual(runs[0]["params"]["instanceParams"], "echo one")
        self.assertEqual(runs[0]["params"]["jobId"], str(job_id))
        self.assertTrue(runs[0]["reply"]["success"])
        self.assertFalse(runs[1]["reply"]["success"])

    def test_faults_are_validated_all_or_nothing(self):
        cases = [
            ({"set": {"bogus": True}}, "set.bogus: unknown fault 'bogus'"),
            ({"set": {"slow": True}}, "set.slow: fault 'slow' needs a value"),
            ({"set": {"slow": "fast"}}, "set.slow: fault 'slow' needs a number"),
            ({"set": {"slow": -1}}, "set.slow: fault 'slow' needs seconds in 0..86400"),
            ({"set": {"overloaded": 3}}, "set.overloaded: fault 'overloaded' takes no value"),
            ({"set": {"flip-running": 0}}, "set.flip-running: fault 'flip-running' needs a count"),
            ({"clear": ["nope"]}, "clear[0]: unknown fault 'nope'"),
            ({"clear": "slow"}, '"clear" must be a list of fault names'),
            ({"sett": {}}, 'the body must be a JSON object with "set" and/or "clear"'),
        ]
        for document, message in cases:
            reply = self.standin.request("POST", "/_standin/faults",
                                         json.dumps(document).encode())
            self.assertEqual(reply.status, 400, document)
            self.assertTrue(reply.json["error"].startswith(message), reply.json["error"])
        reply = self.standin.request("POST", "/_standin/faults", b"{not json")
        self.assertEqual(reply.status, 400)
        reply = self.standin.set_faults({"overloaded": True, "slow": "x"})
        self.assertEqual(reply.status, 400)
        self.assertEqual(self.standin.request("GET", "/_standin/faults").json["faults"], {})

    def test_faults_set_and_clear(self):
        reply = self.standin.set_faults({"slow": "0.01", "no-worker": f"{WORKER},{OTHER_WORKER}"})
        self.assertEqual(reply.json["faults"], {"slow": 0.01,
                                                "no-worker": [WORKER, OTHER_WORKER]})
        reply = self.standin.set_faults(clear=["slow", "no-worker"])
        self.assertEqual(reply.json["faults"], {})

    def test_instances_list_worker_and_pid(self):
        job_id = self.standin.save_shell_job()
        instance_id = self.standin.run(job_id, f"echo $$ > '{self.path('pid')}'")
        self.standin.wait_status(instance_id, {5})
        listed = self.standin.instances()[instance_id]
        self.assertEqual(listed["jobId"], job_id)
        self.assertEqual(listed["status"], 5)
        self.assertEqual(listed["worker"], WORKER)
        self.assertEqual(listed["pid"], int(read_text(self.path("pid"))))

    def test_unknown_control_route_is_404(self):
        reply = self.standin.request("GET", "/_standin/nothing")
        self.assertEqual(reply.status, 404)
        self.assertIn("/_standin/calls", reply.json["error"])


class CommandLineTest(StandinTestCase):
    """Start-up checks and exit. Each case starts its own process."""

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin("4.3").start()

    def run_standin(self, *args):
        return subprocess.run([STANDIN, *args], capture_output=True, text=True, timeout=30)

    def test_rejects_non_loopback_listen(self):
        result = self.run_standin("--listen", "0.0.0.0:0", "--port-file", self.path("p"),
                                  "--profile", "4.3", "--app", APP)
        self.assertEqual(result.returncode, 2)
        self.assertIn("not a loopback IP address", result.stderr)
        self.assertFalse(os.path.exists(self.path("p")))

    def test_rejects_unknown_fault_and_bad_worker(self):
        base = ["--listen", "127.0.0.1:0", "--port-file", self.path("p"), "--profile", "5.1",
                "--app", APP]
        result = self.run_standin(*base, "--fault", "meteor")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown fault 'meteor'", result.stderr)
        result = self.run_standin(*base, "--worker", "27777")
        self.assertEqual(result.returncode, 2)
        self.assertIn("expected a worker address IP:PORT", result.stderr)
        result = self.run_standin(*base[:-2])
        self.assertEqual(result.returncode, 2)
        self.assertIn("--app", result.stderr)

    def test_fault_on_command_line_applies_from_start(self):
        standin = Standin("5.1", faults=("no-worker", "slow=0.2")).start()
        self.addCleanup(standin.cleanup)
        faults = standin.request("GET", "/_standin/faults").json["faults"]
        self.assertEqual(faults, {"no-worker": True, "slow": 0.2})
        instance_id = standin.run(standin.save_shell_job(), "true")
        self.assertEqual(standin.info(instance_id)["result"], "no worker available")

    def test_term_exits_zero_and_leaves_scripts_running(self):
        standin = Standin("5.1").start()
        self.addCleanup(standin.cleanup)
        self.kill_later(self.path("pid"))
        instance_id = standin.run(standin.save_shell_job(), WAIT_FOR_FILE.format(
            pid=self.path("pid"), go=self.path("go")))
        standin.wait_status(instance_id, {3})
        sh_pid = int(read_text(self.path("pid")))
        self.assertEqual(standin.stop(), 0)
        self.assertTrue(process_alive(sh_pid), "TERM killed the instance's sh")
        self.assertIn("received signal 15", standin.log())


if __name__ == "__main__":
    unittest.main()
