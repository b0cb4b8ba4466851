"""The stand-in's jobs and instances over real HTTP, for both PowerJob profiles."""

import http.client
import json
import os
import time
import unittest
import urllib.parse

from standin_support import (APP, OTHER_WORKER, PASSWORD, WORKER, StandinTestCase,
                             process_alive, read_text, wait_until)

# A script that writes its sh pid to {pid}, then runs until the file {go} exists.
WAIT_FOR_FILE = 'echo $$ > "{pid}"; while [ ! -e "{go}" ]; do sleep 0.02; done; echo released\n'


class ProtocolCases:
    """Cases that run against each profile. Subclasses set PROFILE."""

    def test_assert_returns_app_id(self):
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assertEqual(self.standin.data(reply), 1)

    def test_save_and_fetch_job_round_trip(self):
        job_id = self.standin.save_shell_job(
            "echo from job", notifyUserIds=[3, 4], lifeCycle={"start": 1, "end": 2},
            maxInstanceNum=2, instanceTimeLimit=60000, dispatchStrategy="RANDOM")
        job = self.standin.data(self.standin.post_form(
            "fetchJob", {"jobId": job_id, "appId": 1}))
        self.assertEqual(job["id"], job_id)
        self.assertEqual(job["jobParams"], "echo from job")
        self.assertEqual(job["timeExpressionType"], 1)
        self.assertEqual(job["executeType"], 1)
        self.assertEqual(job["processorType"], 1)
        self.assertEqual(job["dispatchStrategy"], 2)
        self.assertEqual(job["status"], 1)
        self.assertEqual(job["designatedWorkers"], WORKER)
        self.assertEqual(job["notifyUserIds"], "3,4")
        self.assertIsInstance(job["lifecycle"], str)
        self.assertEqual(job["instanceTimeLimit"], 60000)
        self.assertRegex(job["gmtCreate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")

    def test_save_job_with_id_updates_job(self):
        job_id = self.standin.save_shell_job("echo one")
        updated = self.standin.save_shell_job("echo two", id=job_id)
        self.assertEqual(updated, job_id)
        job = self.standin.data(self.standin.post_form("fetchJob", {"jobId": job_id,
                                                                    "appId": 1}))
        self.assertEqual(job["jobParams"], "echo two")

    def test_save_job_rejects_missing_and_invalid_fields(self):
        reply = self.standin.post_json("saveJob", {"appId": 1, "processorInfo": "x",
                                                   "executeType": "STANDALONE",
                                                   "processorType": "BUILT_IN",
                                                   "timeExpressionType": "API"})
        self.assert_failure(reply, "PowerJobException: jobName can't be empty")
        reply = self.standin.post_json("saveJob", {"appId": 1, "jobName": "j",
                                                   "executeType": "SOMETIMES"})
        self.assertFalse(reply.json["success"])
        self.assertTrue(reply.json["message"].startswith(
            "HttpMessageNotReadableException: JSON parse error: Cannot deserialize value of "
            "type `tech.powerjob.common.enums.ExecuteType`"), reply.json["message"])

    def test_save_job_rejects_form_body(self):
        reply = self.standin.post_form("saveJob", {"appId": 1, "jobName": "j"})
        self.assert_failure(reply, "HttpMediaTypeNotSupportedException: Content type "
                            "'application/x-www-form-urlencoded' not supported")

    def test_run_job_id_above_2_53_round_trips(self):
        job_id = self.standin.save_shell_job()
        reply = self.standin.post_form("runJob", {"appId": 1, "jobId": job_id,
                                                  "instanceParams": "true", "delay": 0})
        instance_id = self.standin.data(reply)
        self.assertIsInstance(instance_id, int)
        self.assertGreater(instance_id, 2**53)
        # The raw JSON carries every digit and no exponent or fraction.
        self.assertIn(b'"data":%d,' % instance_id, reply.body)
        info = self.standin.info(instance_id)
        self.assertEqual(info["instanceId"], instance_id)
        self.assertIn(instance_id, self.standin.instances())
        self.assertIn(self.standin.status(instance_id), (2, 3, 5))
        self.assertNotEqual(self.standin.run(job_id, "true"), instance_id)

    def test_instance_moves_through_running_to_succeed(self):
        job_id = self.standin.save_shell_job()
        script = WAIT_FOR_FILE.format(pid=self.path("pid"), go=self.path("go"))
        script += "echo to-stderr >&2\n"
        instance_id = self.standin.run(job_id, script)
        running = self.standin.wait_status(instance_id, {3})
        self.assertEqual(running["status"], 3)
        self.assertEqual(running["runningTimes"], 1)
        self.assertEqual(running["taskTrackerAddress"], WORKER)
        self.assertEqual(running["instanceParams"], script)
        self.assertIsNone(running["finishedTime"])
        open(self.path("go"), "w").close()
        done = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(done["status"], 5)
        self.assertEqual(done["result"], "[INPUT]: released\n;[ERROR]: to-stderr\n")
        self.assertGreaterEqual(done["finishedTime"], done["actualTriggerTime"])
        listed = self.standin.instances()[instance_id]
        with open(self.path("pid"), encoding="ascii") as pid_file:
            self.assertEqual(listed["pid"], int(pid_file.read()))
        with open(listed["logFile"], encoding="utf-8") as log:
            # Two pipes feed the log, so their lines may interleave either way.
            self.assertEqual(sorted(log.read().splitlines()), ["released", "to-stderr"])
        with open(listed["scriptFile"], encoding="utf-8") as script_file:
            self.assertEqual(script_file.read(), script)

    def test_failing_script_fails_instance(self):
        job_id = self.standin.save_shell_job()
        instance_id = self.standin.run(job_id, "echo bad; exit 3")
        done = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(done["status"], 4)
        self.assertEqual(done["result"], "[INPUT]: bad\n;[ERROR]: ")

    def test_job_params_run_when_instance_params_empty(self):
        job_id = self.standin.save_shell_job(f"echo from-job > '{self.path('out')}'")
        instance_id = self.standin.run(job_id, None)
        self.assertEqual(self.standin.wait_status(instance_id, {4, 5})["status"], 5)
        with open(self.path("out"), encoding="utf-8") as out:
            self.assertEqual(out.read(), "from-job\n")
        self.assertIsNone(self.standin.info(instance_id)["instanceParams"])

    def test_stop_kills_sh_but_not_its_child(self):
        job_id = self.standin.save_shell_job()
        child_pid = self.path("child")
        self.kill_later(child_pid)
        script = (f'sleep 300 >/dev/null 2>&1 & echo $! > "{child_pid}"\n'
                  + WAIT_FOR_FILE.format(pid=self.path("pid"), go=self.path("go")))
        instance_id = self.standin.run(job_id, script)
        self.assertEqual(self.standin.wait_status(instance_id, {3})["status"], 3)
        self.assertTrue(wait_until(lambda: os.path.exists(child_pid)
                                   and os.path.getsize(child_pid) > 0))
        sh_pid = self.standin.instances()[instance_id]["pid"]
        self.assertTrue(process_alive(sh_pid))

        reply = self.standin.post_form("stopInstance", {"instanceId": instance_id, "appId": 1})
        self.assertIsNone(self.standin.data(reply))
        info = self.standin.info(instance_id)
        self.assertEqual(info["status"], 10)
        self.assertEqual(info["result"], "stopped by user")
        self.assertIsNotNone(info["finishedTime"])
        self.assertTrue(wait_until(lambda: not process_alive(sh_pid)), "sh still runs")
        with open(child_pid, encoding="ascii") as handle:
            self.assertTrue(process_alive(int(handle.read())), "the child was killed too")
        time.sleep(0.2)
        self.assertEqual(self.standin.status(instance_id), 10)
        again = self.standin.post_form("stopInstance", {"instanceId": instance_id, "appId": 1})
        self.assert_failure(again, "IllegalArgumentException: can't stop finished instance!")

    def test_cancel_works_only_before_dispatch(self):
        job_id = self.standin.save_shell_job()
        delayed = self.standin.run(job_id, f"touch '{self.path('ran')}'", delay=60000)
        self.assertEqual(self.standin.status(delayed), 1)
        reply = self.standin.post_form("cancelInstance", {"instanceId": delayed, "appId": 1})
        self.assertIsNone(self.standin.data(reply))
        info = self.standin.info(delayed)
        self.assertEqual(info["status"], 9)
        self.assertEqual(info["result"], "canceled by user")

        finished = self.standin.run(job_id, "true")
        self.standin.wait_status(finished, {5})
        reply = self.standin.post_form("cancelInstance", {"instanceId": finished, "appId": 1})
        self.assert_failure(reply, "PowerJobException: instance already up and running")
        self.assertFalse(os.path.exists(self.path("ran")))

    def test_delayed_instance_dispatches_after_delay(self):
        job_id = self.standin.save_shell_job()
        instance_id = self.standin.run(job_id, "true", delay=300)
        self.assertEqual(self.standin.status(instance_id), 1)
        info = self.standin.wait_status(instance_id, {5})
        self.assertEqual(info["status"], 5)
        self.assertGreaterEqual(info["actualTriggerTime"], info["expectedTriggerTime"])

    def test_retry_reuses_instance_id(self):
        job_id = self.standin.save_shell_job()
        counter = self.path("runs")
        instance_id = self.standin.run(job_id, f"echo run >> '{counter}'; exit 1")
        self.assertEqual(self.standin.wait_status(instance_id, {4, 5})["status"], 4)
        reply = self.standin.post_form("retryInstance", {"instanceId": instance_id, "appId": 1})
        self.assertIsNone(self.standin.data(reply))
        self.assertTrue(wait_until(lambda: self.standin.info(instance_id)["runningTimes"] == 2))
        info = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(info["status"], 4)
        self.assertEqual(info["instanceId"], instance_id)
        with open(counter, encoding="utf-8") as runs:
            self.assertEqual(runs.read(), "run\nrun\n")

        running = self.standin.run(job_id, WAIT_FOR_FILE.format(pid=self.path("p"),
                                                                 go=self.path("go")))
        self.standin.wait_status(running, {3})
        reply = self.standin.post_form("retryInstance", {"instanceId": running, "appId": 1})
        self.assert_failure(reply, "PowerJobException: Only stopped instance can be retry!")
        open(self.path("go"), "w").close()

    def test_instance_retry_num_reruns_failed_instance(self):
        job_id = self.standin.save_shell_job(instanceRetryNum=1)
        counter = self.path("runs")
        instance_id = self.standin.run(job_id, f"echo run >> '{counter}'; exit 1")
        self.assertTrue(wait_until(lambda: read_text(counter) == "run\nrun\n"))
        info = self.standin.wait_status(instance_id, {4})
        self.assertEqual(info["status"], 4)
        self.assertEqual(info["runningTimes"], 2)

    def test_unknown_ids_give_real_error_texts(self):
        self.assert_failure(self.standin.post_form("fetchJob", {"jobId": 999, "appId": 1}),
                            "IllegalArgumentException: can't find job by jobId: 999")
        self.assert_failure(self.standin.post_form("runJob", {"jobId": 999, "appId": 1}),
                            "IllegalArgumentException: can't find job by jobId: 999")
        self.assert_failure(self.standin.post_form("fetchInstanceStatus", {"instanceId": 12}),
                            "IllegalArgumentException: invalid instanceId: 12")
        self.assert_failure(self.standin.post_form("fetchInstanceInfo", {"instanceId": 12}),
                            "IllegalArgumentException: invalid instanceId: 12")
        self.assert_failure(
            self.standin.post_form("stopInstance", {"instanceId": 12, "appId": 1}),
            "IllegalArgumentException: can't find instance by instanceId: 12")

    def test_other_app_is_rejected(self):
        job_id = self.standin.save_shell_job()
        self.assert_failure(
            self.standin.post_form("runJob", {"jobId": job_id, "appId": 7}),
            "IllegalArgumentException: this job is not belong to the app whose appId is 7")
        instance_id = self.standin.run(job_id, "true")
        self.assert_failure(
            self.standin.post_form("stopInstance", {"instanceId": instance_id, "appId": 7}),
            "IllegalArgumentException: instance is not belong to the app whose appId is 7")

    def test_non_numeric_id_is_rejected(self):
        reply = self.standin.post_form("fetchInstanceStatus", {"instanceId": "12x"})
        self.assert_failure(
            reply, "MethodArgumentTypeMismatchException: Failed to convert value of type "
            "'java.lang.String' to required type 'java.lang.Long'; nested exception is "
            'java.lang.NumberFormatException: For input string: "12x"')

    def test_query_string_parameters_bind(self):
        job_id = self.standin.save_shell_job()
        reply = self.standin.post_form("fetchJob", {}, query=f"jobId={job_id}&appId=1")
        self.assertEqual(self.standin.data(reply)["id"], job_id)

    def test_chunked_form_body_binds(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.standin.port, timeout=10)
        self.addCleanup(connection.close)
        body = iter([f"appName={APP}".encode(), b"&password=",
                     urllib.parse.quote(PASSWORD).encode()])
        connection.request("POST", "/openApi/assert", body=body, encode_chunked=True,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        self.assertEqual(json.loads(response.read())["data"], 1)

    def test_form_body_below_2_mib_binds(self):
        job_id = self.standin.save_shell_job("exit 7")
        script = "# " + "x" * 1000000 + "\ntrue\n"
        instance_id = self.standin.run(job_id, script)
        info = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(info["status"], 5)
        self.assertEqual(info["instanceParams"], script)

    def test_form_body_above_2_mib_is_ignored(self):
        # Spring Boot drops the whole form body, so the instance runs jobParams.
        job_id = self.standin.save_shell_job("exit 7")
        reply = self.standin.post_form("runJob", {"instanceParams": "#" * (2 * 1024 * 1024)},
                                       query=f"appId=1&jobId={job_id}")
        instance_id = self.standin.data(reply)
        info = self.standin.wait_status(instance_id, {4, 5})
        self.assertIsNone(info["instanceParams"])
        self.assertEqual(info["status"], 4)

    def test_designated_workers_must_match_exactly(self):
        for designated in ("10.9.9.9:27777", f" {WORKER}"):
            job_id = self.standin.save_shell_job(designatedWorkers=designated)
            instance_id = self.standin.run(job_id, "true")
            info = self.standin.info(instance_id)
            self.assertEqual(info["status"], 4, designated)
            self.assertEqual(info["result"], "no worker available")
            self.assertEqual(info["taskTrackerAddress"], "N/A")
        job_id = self.standin.save_shell_job(designatedWorkers=f"10.9.9.9:1,{OTHER_WORKER}")
        instance_id = self.standin.run(job_id, "true")
        self.assertEqual(self.standin.wait_status(instance_id, {5})["taskTrackerAddress"],
                         OTHER_WORKER)

    def test_max_instance_num_fails_extra_instance(self):
        job_id = self.standin.save_shell_job(maxInstanceNum=1)
        first = self.standin.run(job_id, WAIT_FOR_FILE.format(pid=self.path("p"),
                                                              go=self.path("go")))
        self.standin.wait_status(first, {3})
        second = self.standin.run(job_id, "true")
        info = self.standin.info(second)
        self.assertEqual(info["status"], 4)
        self.assertEqual(info["result"], "too many instances(1>1)")
        open(self.path("go"), "w").close()
        self.assertEqual(self.standin.wait_status(first, {5})["status"], 5)

    def test_url_script_is_downloaded_and_fails(self):
        job_id = self.standin.save_shell_job()
        instance_id = self.standin.run(job_id, "https://scripts.invalid/start.sh")
        info = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(info["status"], 4)
        self.assertIn("download", info["result"])
        self.assertIsNone(self.standin.instances()[instance_id]["pid"])

    def test_other_processor_fails_on_worker(self):
        job_id = self.standin.save_shell_job(processorInfo="com.example.MyProcessor")
        instance_id = self.standin.run(job_id, "true")
        info = self.standin.wait_status(instance_id, {4, 5})
        self.assertEqual(info["status"], 4)
        self.assertIn("com.example.MyProcessor", info["result"])

    def test_disable_enable_delete_set_job_status(self):
        job_id = self.standin.save_shell_job()
        for op, status in (("disableJob", 2), ("enableJob", 1), ("deleteJob", 99)):
            self.assertIsNone(self.standin.data(self.standin.post_form(
                op, {"jobId": job_id, "appId": 1})))
            job = self.standin.data(self.standin.post_form("fetchJob", {"jobId": job_id,
                                                                        "appId": 1}))
            self.assertEqual(job["status"], status, op)
        all_jobs = self.standin.data(self.standin.post_form("fetchAllJob", {"appId": 1}))
        self.assertIn(job_id, [job["id"] for job in all_jobs])

    def test_get_is_rejected_and_unknown_path_is_404(self):
        reply = self.standin.request("GET", "/openApi/runJob")
        self.assert_failure(reply, "HttpRequestMethodNotSupportedException: Request method "
                            "'GET' not supported")
        reply = self.standin.post_form("runWorkflowTwice", {})
        self.assertEqual(reply.status, 404)
        self.assertEqual(reply.json["path"], "/openApi/runWorkflowTwice")


class Profile43ProtocolTest(ProtocolCases, StandinTestCase):
    PROFILE = "4.3"
    EXTRA_ARGS = ("--time-scale", "0.02")  # the 10 s instance retry delay becomes 0.2 s

    def test_no_auth_header_and_no_auth_app(self):
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assertEqual(reply.header_values("X-POWERJOB-AUTH-PASSED"), [])
        reply = self.standin.post_json("authApp", {"appName": APP})
        self.assertEqual(reply.status, 404)

    def test_assert_failures(self):
        self.assert_failure(self.standin.post_form("assert", {"appName": APP,
                                                              "password": "wrong"}),
                            "PowerJobException: password error!")
        self.assert_failure(self.standin.post_form("assert", {"appName": APP}),
                            "PowerJobException: password error!")
        self.assert_failure(self.standin.post_form("assert", {"appName": "nope",
                                                              "password": PASSWORD}),
                            "PowerJobException: can't find appInfo by appName: nope")


class Profile51ProtocolTest(ProtocolCases, StandinTestCase):
    PROFILE = "5.1"
    EXTRA_ARGS = ("--time-scale", "0.02")

    def test_every_reply_has_auth_header_true(self):
        job_id = self.standin.save_shell_job()
        reply = self.standin.post_form("fetchJob", {"jobId": job_id, "appId": 1})
        self.assertEqual(reply.header_values("X-POWERJOB-AUTH-PASSED"), ["true"])
        reply = self.standin.post_form("fetchJob", {"jobId": 999, "appId": 1})
        self.assertEqual(reply.header_values("X-POWERJOB-AUTH-PASSED"), ["true"])

    def test_assert_failures(self):
        self.assert_failure(self.standin.post_form("assert", {"appName": APP,
                                                              "password": "wrong"}),
                            "PowerJobException: INCORRECT_PASSWORD", "-400")
        self.assert_failure(self.standin.post_form("assert", {"appName": APP}),
                            "NullPointerException: ")
        self.assert_failure(self.standin.post_form("assert", {"appName": "nope",
                                                              "password": PASSWORD}),
                            "PowerJobException: INVALID_APP:nope", "-402")


if __name__ == "__main__":
    unittest.main()
