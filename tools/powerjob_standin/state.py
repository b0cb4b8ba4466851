"""The server's jobs and instances, and the operations on them."""

import collections
import secrets
import signal
import threading
import time

from .auth import AuthOperations
from .faults import FAULTS, parse_fault_value
from .protocol import (FAILED, FINISHED, GENERALIZED_RUNNING, LOG, RUNNING, SNOWFLAKE_EPOCH_MS,
                       STOPPED, SUCCEED, CANCELED, WAITING_DISPATCH, WAITING_WORKER_RECEIVE,
                       JavaError, build_job, illegal_argument, iso_date, java_string, job_dto,
                       long_param, now_ms, powerjob_error)
from .shell_worker import log_path, run_script, script_path

class Instance:
    def __init__(self, instance_id, job, instance_params, expected_ms):
        created = now_ms()
        self.instance_id = instance_id
        self.job_id = job["id"]
        self.app_id = job["appId"]
        self.job_params = job.get("jobParams")
        self.instance_params = instance_params
        self.status = WAITING_DISPATCH
        self.result = None
        self.expected_trigger_time = expected_ms
        self.actual_trigger_time = None
        self.finished_time = None
        self.task_tracker_address = None
        self.running_times = 0
        self.gmt_create = created
        self.gmt_modified = created
        self.generation = 0  # dispatch count, so a stale run does not report
        self.reported_generation = 0
        self.abandoned_generation = 0  # a stop that reached the worker
        self.flips_done = 0
        self.flip_pending = False
        self.processes = []  # Popen of each sh that the current dispatch started
        self.timer = None

    def touch(self):
        self.gmt_modified = now_ms()

    def to_dto(self):
        return {
            "jobId": self.job_id, "appId": self.app_id, "instanceId": self.instance_id,
            "wfInstanceId": None, "jobParams": self.job_params,
            "instanceParams": self.instance_params, "status": self.status, "type": 1,
            "result": self.result, "expectedTriggerTime": self.expected_trigger_time,
            "actualTriggerTime": self.actual_trigger_time,
            "finishedTime": self.finished_time,
            "taskTrackerAddress": self.task_tracker_address,
            "runningTimes": self.running_times, "gmtCreate": iso_date(self.gmt_create),
            "gmtModified": iso_date(self.gmt_modified),
        }


class Standin(AuthOperations):
    """The server's state and operations. Every method takes self.lock itself."""

    def __init__(self, options):
        self.options = options
        self.lock = threading.RLock()
        self.app_id = 1
        self.faults = dict(options.fault)
        self.jobs = {}
        self.next_job_id = 1
        self.instances = {}
        self.last_snowflake = 0
        self.calls = []
        self.counts = collections.Counter()
        self.token_key = secrets.token_bytes(32)
        self.refuse_until = 0.0
        self.server = None

    # -- ids, workers, passwords

    def allocate_instance_id(self):
        candidate = (now_ms() - SNOWFLAKE_EPOCH_MS) << 22
        self.last_snowflake = max(candidate, self.last_snowflake + 1)
        return self.last_snowflake

    def live_workers(self):
        offline = self.faults.get("no-worker")
        if offline is True:
            return []
        return [w for w in self.options.worker if not offline or w not in offline]

    # -- ownership checks of OpenAPIController

    def check_job(self, job_id, app_id):
        job = self.jobs.get(job_id)
        if job is None:
            raise illegal_argument(f"can't find job by jobId: {java_string(job_id)}")
        if app_id is None:
            raise JavaError("NullPointerException", "")
        if app_id != job["appId"]:
            raise illegal_argument(f"this job is not belong to the app whose appId is {app_id}")
        return job

    def check_instance(self, instance_id, app_id):
        instance = self.instances.get(instance_id)
        if instance is None:
            raise illegal_argument(
                f"can't find instance by instanceId: {java_string(instance_id)}")
        if app_id is None:
            raise JavaError("NullPointerException", "")
        if app_id != instance.app_id:
            raise illegal_argument(
                f"instance is not belong to the app whose appId is {app_id}")
        return instance

    def fetch_instance(self, instance_id):
        instance = self.instances.get(instance_id)
        if instance is None:
            raise illegal_argument(f"invalid instanceId: {java_string(instance_id)}")
        return instance

    # -- jobs

    def op_save_job(self, body):
        job = build_job(body)
        with self.lock:
            if job["id"] is not None:
                old = self.check_job(job["id"], job["appId"])
                job["gmtCreate"] = old["gmtCreate"]
            else:
                job["id"] = self.next_job_id
                self.next_job_id += 1
            self.jobs[job["id"]] = job
            return job["id"]

    def op_fetch_job(self, params):
        job_id, app_id = long_param(params, "jobId"), long_param(params, "appId")
        with self.lock:
            return job_dto(self.check_job(job_id, app_id))

    def op_fetch_all_job(self, params):
        app_id = long_param(params, "appId")
        with self.lock:
            return [job_dto(job) for job in self.jobs.values() if job["appId"] == app_id]

    def op_disable_job(self, params):
        return self.set_job_status(params, 2)

    def op_enable_job(self, params):
        return self.set_job_status(params, 1)

    def op_delete_job(self, params):
        """Deletes softly: the job keeps its id with status 99."""
        return self.set_job_status(params, 99)

    def set_job_status(self, params, status):
        job_id, app_id = long_param(params, "jobId"), long_param(params, "appId")
        with self.lock:
            job = self.check_job(job_id, app_id)
            job["status"] = status
            job["gmtModified"] = now_ms()
        return None

    # -- instances

    def op_run_job(self, params):
        app_id, job_id = long_param(params, "appId"), long_param(params, "jobId")
        instance_params = params.get("instanceParams")
        delay = long_param(params, "delay") or 0
        with self.lock:
            job = self.check_job(job_id, app_id)
            instance = Instance(self.allocate_instance_id(), job, instance_params,
                                now_ms() + max(delay, 0))
            self.instances[instance.instance_id] = instance
            if delay <= 0:
                self.dispatch(instance)
            else:
                instance.timer = threading.Timer(delay / 1000.0, self.dispatch_later,
                                                 (instance.instance_id,))
                instance.timer.daemon = True
                instance.timer.start()
            return instance.instance_id

    def dispatch_later(self, instance_id):
        with self.lock:
            instance = self.instances[instance_id]
            instance.timer = None
            self.dispatch(instance)

    def dispatch(self, instance):
        """Dispatches as DispatchService.dispatch does. The caller holds self.lock."""
        job = self.jobs.get(instance.job_id)
        if instance.status != WAITING_DISPATCH or job is None:
            return
        now = now_ms()

        limit = job["maxInstanceNum"] or 0
        if limit > 0:
            active = sum(1 for other in self.instances.values() if other.job_id == job["id"]
                         and other.status in (WAITING_WORKER_RECEIVE, RUNNING))
            if active >= limit:
                self.fail_dispatch(instance, now, f"too many instances({active}>{limit})")
                return

        workers = self.eligible_workers(job)
        if not workers:
            self.fail_dispatch(instance, now, "no worker available")
            return
        if "overloaded" in self.faults:
            return

        # NOTE: HEALTH_FIRST and RANDOM both pick the first eligible worker here.
        worker = workers[0]
        instance.status = WAITING_WORKER_RECEIVE
        instance.actual_trigger_time = now
        instance.task_tracker_address = worker
        instance.generation += 1
        instance.processes = []
        instance.touch()
        LOG.info("instance=%d job=%d dispatched to worker %s", instance.instance_id,
                 job["id"], worker)
        if "stuck-dispatch" not in self.faults:
            self.deliver(instance, job, worker)

    def eligible_workers(self, job):
        """Returns the live workers that designatedWorkers names, split on "," untrimmed."""
        designated = job.get("designatedWorkers") or ""
        return [worker for worker in self.live_workers()
                if not designated or worker in designated.split(",")]

    def deliver(self, instance, job, worker):
        """Starts the script on `worker`, twice under the duplicate-delivery fault."""
        gap = self.faults.get("duplicate-delivery")
        deliveries = 1 if gap is None else 2
        gap = 0.0 if gap is True or gap is None else gap
        for delivery in range(deliveries):
            thread = threading.Thread(
                target=run_script, daemon=True,
                args=(self, instance.instance_id, instance.generation, worker, job,
                      delivery, delivery * gap))
            thread.start()

    def fail_dispatch(self, instance, now, result):
        instance.status = FAILED
        instance.actual_trigger_time = now
        instance.finished_time = now
        instance.task_tracker_address = "N/A"
        instance.result = result
        instance.touch()
        LOG.info("instance=%d failed at dispatch: %s", instance.instance_id, result)

    def report_running(self, instance_id, generation, process):
        """Records a worker's report of a started sh: status 3, and runningTimes + 1 once."""
        with self.lock:
            instance = self.instances[instance_id]
            if instance.generation != generation:
                return False
            if process is not None:
                instance.processes.append(process)
            if instance.status == WAITING_WORKER_RECEIVE:
                instance.status = RUNNING
            if instance.reported_generation != generation:
                instance.reported_generation = generation
                instance.running_times += 1
            instance.touch()
            return True

    def report_finished(self, instance_id, generation, succeeded, result):
        """InstanceManager.updateStatus for a final report, with instance retries."""
        with self.lock:
            instance = self.instances[instance_id]
            if (instance.generation != generation or instance.status != RUNNING
                    or instance.abandoned_generation == generation):
                return
            job = self.jobs.get(instance.job_id) or {}
            instance.result = result
            instance.touch()
            retries = job.get("instanceRetryNum") or 0
            if not succeeded and instance.running_times <= retries:
                instance.status = WAITING_DISPATCH
                instance.expected_trigger_time = now_ms() + int(10000 * self.options.time_scale)
                delay = 10.0 * self.options.time_scale
                instance.timer = threading.Timer(delay, self.dispatch_later, (instance_id,))
                instance.timer.daemon = True
                instance.timer.start()
                LOG.info("instance=%d failed, retrying in %gs", instance_id, delay)
                return
            instance.status = SUCCEED if succeeded else FAILED
            instance.finished_time = now_ms()
            LOG.info("instance=%d finished with status %d", instance_id, instance.status)

    def op_stop_instance(self, params):
        instance_id, app_id = long_param(params, "instanceId"), long_param(params, "appId")
        with self.lock:
            instance = self.check_instance(instance_id, app_id)
            if instance.status not in GENERALIZED_RUNNING:
                raise illegal_argument("can't stop finished instance!")
            instance.status = STOPPED
            instance.finished_time = now_ms()
            instance.result = "stopped by user"
            instance.touch()
            flips = self.faults.get("flip-running")
            if flips is not None and instance.flips_done < (1 if flips is True else flips):
                # The stop request is lost on its way to the worker.
                instance.flips_done += 1
                instance.flip_pending = True
                return None
            instance.abandoned_generation = instance.generation
            for process in instance.processes:
                if process.poll() is None:
                    # Popen.send_signal skips a process that wait() has reaped.
                    process.send_signal(signal.SIGKILL)
                    LOG.info("instance=%d stop sent SIGKILL to sh pid %d", instance_id,
                             process.pid)
        return None

    def op_cancel_instance(self, params):
        instance_id, app_id = long_param(params, "instanceId"), long_param(params, "appId")
        with self.lock:
            instance = self.check_instance(instance_id, app_id)
            if instance.timer is not None:
                instance.timer.cancel()
                instance.timer = None
            elif instance.status != WAITING_DISPATCH:
                raise powerjob_error("instance already up and running")
            instance.status = CANCELED
            instance.result = "canceled by user"
            instance.touch()
        return None

    def op_retry_instance(self, params):
        instance_id, app_id = long_param(params, "instanceId"), long_param(params, "appId")
        with self.lock:
            instance = self.check_instance(instance_id, app_id)
            if instance.status not in FINISHED:
                raise powerjob_error("Only stopped instance can be retry!")
            instance.status = WAITING_DISPATCH
            instance.finished_time = None
            instance.actual_trigger_time = None
            instance.task_tracker_address = None
            instance.result = None
            instance.flip_pending = False
            instance.touch()
            self.dispatch(instance)
        return None

    def read_instance(self, params):
        """Fetches an instance, applying a pending flip back to RUNNING."""
        instance = self.fetch_instance(long_param(params, "instanceId"))
        if instance.flip_pending:
            instance.flip_pending = False
            instance.status = RUNNING
            instance.touch()
            LOG.info("instance=%d reads RUNNING again after a stop", instance.instance_id)
        return instance

    def op_fetch_instance_status(self, params):
        with self.lock:
            return self.read_instance(params).status

    def op_fetch_instance_info(self, params):
        with self.lock:
            return self.read_instance(params).to_dto()

    # -- background checks of InstanceStatusCheckService

    def sweep_forever(self):
        """Re-dispatches status 1 after 30 s and status 2 after 60 s, checked every 10 s."""
        scale = self.options.time_scale
        while True:
            time.sleep(10 * scale)
            now = now_ms()
            with self.lock:
                for instance in list(self.instances.values()):
                    if instance.timer is not None:
                        continue
                    if (instance.status == WAITING_DISPATCH
                            and now > instance.expected_trigger_time + 30000 * scale):
                        self.dispatch(instance)
                    elif (instance.status == WAITING_WORKER_RECEIVE
                          and now > instance.actual_trigger_time + 60000 * scale):
                        LOG.info("instance=%d not received in time, dispatching again",
                                 instance.instance_id)
                        instance.status = WAITING_DISPATCH
                        self.dispatch(instance)

    # -- control API

    def refuse_connections(self, seconds):
        """Closes the listening socket for `seconds`, after which the serving loop reopens it."""
        self.refuse_until = time.monotonic() + seconds
        threading.Thread(target=self.server.shutdown, daemon=True).start()

    def record_call(self, call):
        with self.lock:
            self.counts[call["op"]] += 1
            self.calls.append(call)

    def control_snapshot(self):
        with self.lock:
            return {"counts": dict(self.counts), "calls": list(self.calls)}

    def instances_snapshot(self):
        with self.lock:
            return [{"id": i.instance_id, "jobId": i.job_id, "status": i.status,
                     "worker": i.task_tracker_address,
                     "pid": i.processes[0].pid if i.processes else None,
                     "pids": [process.pid for process in i.processes],
                     "runningTimes": i.running_times, "result": i.result,
                     "scriptFile": script_path(self, i.task_tracker_address, i.instance_id),
                     "logFile": log_path(self, i.task_tracker_address, i.instance_id)}
                    for i in self.instances.values()]

    def update_faults(self, document):
        """Applies {"set": {...}, "clear": [...]} all or nothing, or raises ValueError."""
        if not isinstance(document, dict) or set(document) - {"set", "clear"}:
            raise ValueError('the body must be a JSON object with "set" and/or "clear"')
        updates, clears = document.get("set", {}), document.get("clear", [])
        if not isinstance(updates, dict):
            raise ValueError('"set" must be an object of fault name to value')
        if not isinstance(clears, list) or not all(isinstance(c, str) for c in clears):
            raise ValueError('"clear" must be a list of fault names')
        checked = {}
        for name, value in updates.items():
            try:
                checked[name] = parse_fault_value(name, value)
            except ValueError as error:
                raise ValueError(f"set.{name}: {error}") from None
        for index, name in enumerate(clears):
            if name not in FAULTS:
                raise ValueError(f"clear[{index}]: unknown fault {name!r}")
        with self.lock:
            for name in clears:
                self.faults.pop(name, None)
            self.faults.update(checked)
            LOG.info("faults now %s", self.faults)
            return dict(self.faults)
