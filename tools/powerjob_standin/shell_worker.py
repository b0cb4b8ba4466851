"""A worker that runs the official shell processor: one /bin/sh per delivery."""

import os
import subprocess
import threading
import time

from .protocol import LOG, MAX_RESULT_CHARS, SHELL_PROCESSOR

def worker_dir(standin, worker):
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in worker or "none")
    return os.path.join(standin.options.state_dir, f"worker-{safe}")


def script_path(standin, worker, instance_id):
    if not worker or worker == "N/A":
        return None
    return os.path.join(worker_dir(standin, worker), "official_script_processor",
                        f"shell_{instance_id}.sh")


def log_path(standin, worker, instance_id):
    if not worker or worker == "N/A":
        return None
    return os.path.join(worker_dir(standin, worker), "logs", f"instance_{instance_id}.log")


def pump_lines(stream, sink, lines, sink_lock):
    """Copies one pipe into the log file and keeps its lines for the result."""
    for raw in iter(stream.readline, b""):
        with sink_lock:
            sink.write(raw)
            sink.flush()
        lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
    stream.close()


def run_script(standin, instance_id, generation, worker, job, delivery, start_delay):
    """Runs one delivery of a dispatch on `worker`, as the official ShellProcessor does.

    Only delivery 0 reports a final status. A duplicate delivery (1) runs the
    script and adds its sh to the instance, but its exit changes nothing.
    """
    if start_delay:
        time.sleep(start_delay)
    with standin.lock:
        instance = standin.instances[instance_id]
        source = instance.instance_params or instance.job_params or ""
        processor = job.get("processorInfo")
    path = script_path(standin, worker, instance_id)
    if processor != SHELL_PROCESSOR:
        standin.report_running(instance_id, generation, None)
        standin.report_finished(instance_id, generation, False,
                                f"the stand-in worker runs only {SHELL_PROCESSOR}, not {processor}")
        return
    if source.startswith(("http", "ftp")):
        # NOTE: the real processor downloads the script. The stand-in never
        # opens connections to other hosts, so the download always fails.
        standin.report_running(instance_id, generation, None)
        standin.report_finished(instance_id, generation, False,
                                f"download script failed: downloads are disabled in the "
                                f"stand-in: {source.splitlines()[0]}")
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.makedirs(os.path.dirname(log_path(standin, worker, instance_id)), exist_ok=True)
    if not os.path.exists(path):  # the real processor reuses an existing file
        with open(path, "w", encoding="utf-8") as script:
            script.write(source)
    os.chmod(path, 0o755)
    with open(log_path(standin, worker, instance_id), "ab") as sink:
        try:
            process = subprocess.Popen(["/bin/sh", path], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       cwd=worker_dir(standin, worker))
        except OSError as error:
            standin.report_running(instance_id, generation, None)
            standin.report_finished(instance_id, generation, False, f"start failed: {error}")
            return
        LOG.info("instance=%d worker %s started sh pid %d", instance_id, worker, process.pid)
        standin.report_running(instance_id, generation, process)
        out_lines, err_lines, sink_lock = [], [], threading.Lock()
        pumps = [threading.Thread(target=pump_lines, daemon=True,
                                  args=(pipe, sink, lines, sink_lock))
                 for pipe, lines in ((process.stdout, out_lines), (process.stderr, err_lines))]
        for pump in pumps:
            pump.start()
        code = process.wait()
        for pump in pumps:
            pump.join()
    result = ("[INPUT]: " + "".join(line + "\n" for line in out_lines) + ";[ERROR]: "
              + "".join(line + "\n" for line in err_lines))
    if len(result) > MAX_RESULT_CHARS:
        result = result[:MAX_RESULT_CHARS] + "..."
    LOG.info("instance=%d sh pid %d exited with %d", instance_id, process.pid, code)
    if delivery == 0:
        standin.report_finished(instance_id, generation, code == 0, result)
