"""Runs the PowerJob stand-in as a real process and talks to it over loopback HTTP.

SVCD_POWERJOB_STANDIN names the program to run; without it the tests run
tools/powerjob-standin from this source tree.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.environ.get("SVCD_POWERJOB_STANDIN") or os.path.join(
    HERE, "..", "..", "tools", "powerjob-standin")
SHELL_PROCESSOR = "tech.powerjob.official.processors.impl.script.ShellProcessor"
WORKER = "127.0.0.1:27777"
OTHER_WORKER = "127.0.0.1:27778"
APP = "svcd-test"
PASSWORD = "s3cret pw"


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Returns the first truthy value of predicate(), or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def read_text(path):
    """Returns the file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def process_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value) in arrival order
        self.body = body
        self.json = json.loads(body) if body else None

    def header_values(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Standin:
    """One stand-in process with its own state directory and port."""

    def __init__(self, profile, password=PASSWORD, workers=(WORKER,), faults=(), extra=()):
        self.profile = profile
        self.directory = tempfile.mkdtemp(prefix="standin-test-")
        self.port_file = os.path.join(self.directory, "port")
        self.log_file = os.path.join(self.directory, "standin.log")
        self.argv = [STANDIN, "--listen", "127.0.0.1:0", "--port-file", self.port_file,
                     "--profile", profile, "--app", APP,
                     "--state-dir", os.path.join(self.directory, "state")]
        if password is not None:
            self.argv += ["--password", password]
        for worker in workers:
            self.argv += ["--worker", worker]
        for fault in faults:
            self.argv += ["--fault", fault]
        self.argv += list(extra)
        self.process = None
        self.port = None
        self.app_id = 1

    def start(self):
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log)
        port = wait_until(self.read_port, timeout=15)
        if not port:
            self.stop()
            raise AssertionError(f"the stand-in wrote no port file; log:\n{self.log()}")
        self.port = port
        return self

    def read_port(self):
        if self.process.poll() is not None:
            raise AssertionError(f"the stand-in exited with {self.process.returncode}; "
                                 f"log:\n{self.log()}")
        try:
            with open(self.port_file, encoding="ascii") as port_file:
                return int(port_file.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self):
        """Sends TERM and returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def cleanup(self):
        self.stop()
        self.kill_scripts()
        shutil.rmtree(self.directory, ignore_errors=True)

    def kill_scripts(self):
        """Kills the worker scripts that still run: like a real worker, the
        stand-in leaves them running when it stops, and a test that never
        released one would leave it looping after the directory is gone."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read()
            except OSError:
                continue
            if self.directory.encode() in command:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def log(self):
        with open(self.log_file, encoding="utf-8", errors="replace") as log:
            return log.read()

    # -- HTTP

    def request(self, method, path, body=b"", headers=None, timeout=10):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    def post_form(self, op, params, headers=None, query=""):
        fields = {k: str(v) for k, v in params.items() if v is not None}
        all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        all_headers.update(headers or {})
        path = f"/openApi/{op}" + (f"?{query}" if query else "")
        return self.request("POST", path, urllib.parse.urlencode(fields).encode(), all_headers)

    def post_json(self, op, document, headers=None):
        all_headers = {"Content-Type": "application/json; charset=utf-8"}
        all_headers.update(headers or {})
        return self.request("POST", f"/openApi/{op}", json.dumps(document).encode(), all_headers)

    def calls(self):
        return self.request("GET", "/_standin/calls").json

    def instances(self):
        return {item["id"]: item for item in self.request("GET", "/_standin/instances").json[
            "instances"]}

    def set_faults(self, set_faults=None, clear=None):
        document = {"set": set_faults or {}, "clear": clear or []}
        return self.request("POST", "/_standin/faults", json.dumps(document).encode(),
                            {"Content-Type": "application/json"})

    # -- operations that must succeed

    def data(self, reply):
        if reply.status != 200 or not reply.json.get("success"):
            raise AssertionError(f"call failed: HTTP {reply.status} {reply.body!r}")
        return reply.json["data"]

    def save_shell_job(self, job_params=None, **fields):
        document = {"appId": self.app_id, "jobName": "svcd-target",
                    "timeExpressionType": "API", "executeType": "STANDALONE",
                    "processorType": "BUILT_IN", "processorInfo": SHELL_PROCESSOR,
                    "designatedWorkers": WORKER, "jobParams": job_params}
        document.update(fields)
        return self.data(self.post_json("saveJob", document))

    def run(self, job_id, script=None, delay=0):
        return self.data(self.post_form("runJob", {"appId": self.app_id, "jobId": job_id,
                                                   "instanceParams": script, "delay": delay}))

    def info(self, instance_id):
        return self.data(self.post_form("fetchInstanceInfo", {"instanceId": instance_id,
                                                              "appId": self.app_id}))

    def status(self, instance_id):
        return self.data(self.post_form("fetchInstanceStatus", {"instanceId": instance_id}))

    def wait_status(self, instance_id, wanted, timeout=10):
        """Polls until the status is in `wanted`, then returns the last InstanceInfoDTO."""
        info = wait_until(lambda: (lambda i: i if i["status"] in wanted else None)(
            self.info(instance_id)), timeout=timeout)
        return info or self.info(instance_id)


class StandinTestCase(unittest.TestCase):
    """Starts one stand-in per test class, and clears its faults after each test."""

    PROFILE = "5.1"
    EXTRA_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin(cls.PROFILE, workers=(WORKER, OTHER_WORKER),
                              extra=cls.EXTRA_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        cls.standin.cleanup()

    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="standin-case-")
        self.addCleanup(shutil.rmtree, self.scratch, True)
        self.addCleanup(self.clear_faults)

    def clear_faults(self):
        faults = self.standin.request("GET", "/_standin/faults").json["faults"]
        if faults:
            self.standin.set_faults(clear=list(faults))

    def path(self, name):
        return os.path.join(self.scratch, name)

    def kill_later(self, pid_file):
        """Kills the process whose pid a script wrote to `pid_file`, after the test."""
        def kill():
            try:
                with open(pid_file, encoding="ascii") as handle:
                    os.kill(int(handle.read().strip()), signal.SIGKILL)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass
        self.addCleanup(kill)

    def assert_failure(self, reply, message, code=None):
        """Checks a business failure: HTTP 200, success false, the exact message."""
        self.assertEqual(reply.status, 200, reply.body)
        self.assertIs(reply.json["success"], False, reply.body)
        self.assertIsNone(reply.json["data"])
        self.assertEqual(reply.json["message"], message)
        if self.standin.profile == "5.1":
            self.assertIn("code", reply.json)
            self.assertEqual(reply.json["code"], code)
        else:
            self.assertNotIn("code", reply.json)
