"""PowerJob's wire format: constants, Java-style errors and request binding.

The error texts mirror what PowerJob 4.3.9 and 5.1.1 put in the "message" of
a failed reply: the short exception class name, ": ", then its message.
"""

import hashlib
import json
import logging
import time

PROGRAM = "powerjob-standin"
LOG = logging.getLogger(PROGRAM)

SHELL_PROCESSOR = "tech.powerjob.official.processors.impl.script.ShellProcessor"
HEADER_APP_ID = "X-POWERJOB-APP-ID"
HEADER_TOKEN = "X-POWERJOB-ACCESS-TOKEN"
HEADER_AUTH_PASSED = "X-POWERJOB-AUTH-PASSED"

# Snowflake ids as PowerJob allocates them: milliseconds since 2019-04-20 UTC,
# shifted left by 22 bits, so every id of this decade is above 2^53.
SNOWFLAKE_EPOCH_MS = 1555718400000
TOKEN_LIFETIME_SECONDS = 604800  # oms.auth.security.jwt.expire-seconds default
MAX_RESULT_CHARS = 8096  # the worker's maxResultLength default
MAX_FORM_BYTES = 2 * 1024 * 1024  # Spring Boot's max-http-form-post-size default
MAX_BODY_BYTES = 64 * 1024 * 1024  # the stand-in's own limit; larger bodies get HTTP 413

# Enum name to code, in declaration order: Jackson also accepts a JSON number
# for an enum and reads it as the declaration index, not as the code.
ENUMS = {
    "timeExpressionType": {"API": 1, "CRON": 2, "FIXED_RATE": 3, "FIXED_DELAY": 4,
                           "WORKFLOW": 5, "DAILY_TIME_INTERVAL": 11},
    "executeType": {"STANDALONE": 1, "BROADCAST": 2, "MAP_REDUCE": 3, "MAP": 4},
    "processorType": {"BUILT_IN": 1, "SHELL": 2, "PYTHON": 3, "EXTERNAL": 4},
    "dispatchStrategy": {"HEALTH_FIRST": 1, "RANDOM": 2, "SPECIFY": 11},
}
ENUM_CLASSES = {"timeExpressionType": "TimeExpressionType", "executeType": "ExecuteType",
                "processorType": "ProcessorType", "dispatchStrategy": "DispatchStrategy"}

WAITING_DISPATCH, WAITING_WORKER_RECEIVE, RUNNING = 1, 2, 3
FAILED, SUCCEED, CANCELED, STOPPED = 4, 5, 9, 10
GENERALIZED_RUNNING = (WAITING_DISPATCH, WAITING_WORKER_RECEIVE, RUNNING)
FINISHED = (FAILED, SUCCEED, CANCELED, STOPPED)

class JavaError(Exception):
    """A failure the real server reports as `<ExceptionClass>: <message>`."""

    def __init__(self, exception_class, message, code=None):
        super().__init__(message)
        self.exception_class = exception_class
        self.message = message
        self.code = code

    def text(self):
        return f"{self.exception_class}: {self.message}"


def illegal_argument(message):
    return JavaError("IllegalArgumentException", message)


def powerjob_error(message, code=None):
    return JavaError("PowerJobException", message, code)


def coded_error(name, code, detail=None):
    """Builds a PowerJobException from an ErrorCodes entry: NAME or NAME:detail."""
    return powerjob_error(name if detail is None else f"{name}:{detail}", code)


def java_string(value):
    return "null" if value is None else str(value)


def now_ms():
    return int(time.time() * 1000)


def iso_date(ms):
    """Formats epoch ms the way Spring Boot's Jackson writes a java.util.Date."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+00:00"


def md5_hex(text):
    return hashlib.md5((text or "").encode()).hexdigest()


def long_param(params, name):
    """Binds a java.lang.Long request parameter: empty is null, junk is an error."""
    text = params.get(name)
    if text is None or text == "":
        return None
    digits = text[1:] if text[:1] in "+-" else text
    value = int(text) if digits.isascii() and digits.isdigit() else None
    if value is None or not -2**63 <= value < 2**63:
        raise JavaError("MethodArgumentTypeMismatchException",
                        "Failed to convert value of type 'java.lang.String' to required type "
                        "'java.lang.Long'; nested exception is java.lang.NumberFormatException:"
                        f" For input string: \"{text}\"")
    return value


def json_string(body, name):
    """Reads a String field. Jackson also turns a JSON number or boolean into text."""
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise not_readable(f"Cannot deserialize value of type `java.lang.String` from "
                       f"{type(value).__name__} value; field {name}")


def json_list(body, name):
    value = body.get(name) or []
    if not isinstance(value, list):
        raise not_readable(f"Cannot deserialize value of type `java.util.List` from "
                           f"{type(value).__name__} value; field {name}")
    return value


def not_readable(detail):
    return JavaError("HttpMessageNotReadableException", f"JSON parse error: {detail}")


def json_number(body, name, default, integral=True):
    value = body.get(name, default)
    if value is None or isinstance(value, bool):
        return default if value is None else value
    if isinstance(value, str):
        try:
            value = int(value) if integral else float(value)
        except ValueError:
            raise not_readable(f"Cannot deserialize value of type `{'long' if integral else 'double'}`"
                               f" from String \"{body[name]}\"; field {name}") from None
    if integral and isinstance(value, float):
        value = int(value)
    if not isinstance(value, (int, float)) or (integral and not -2**63 <= value < 2**63):
        raise not_readable(f"Numeric value ({value}) out of range or wrong type; field {name}")
    return value


def json_enum(body, field):
    """Reads an enum by NAME, or a number as its declaration index, as Jackson does."""
    value = body.get(field)
    names = list(ENUMS[field])
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return ENUMS[field][names[value]]
    if isinstance(value, str) and value in ENUMS[field]:
        return ENUMS[field][value]
    raise not_readable(
        f"Cannot deserialize value of type `tech.powerjob.common.enums.{ENUM_CLASSES[field]}`"
        f" from {type(value).__name__} {json.dumps(value)}: not one of the values accepted for "
        f"Enum class: [{', '.join(names)}]")


def build_job(body):
    """Reads a SaveJobInfoRequest, applies its defaults and runs its valid() checks."""
    if not isinstance(body, dict):
        raise not_readable("Cannot deserialize value of type `SaveJobInfoRequest` from "
                           f"{type(body).__name__}")
    now = now_ms()
    job = {
        "id": json_number(body, "id", None), "appId": json_number(body, "appId", None),
        "jobName": json_string(body, "jobName"), "jobDescription": json_string(body, "jobDescription"),
        "jobParams": json_string(body, "jobParams"), "timeExpression": json_string(body, "timeExpression"),
        "processorInfo": json_string(body, "processorInfo"),
        "maxInstanceNum": json_number(body, "maxInstanceNum", 0),
        "concurrency": json_number(body, "concurrency", 5),
        "instanceTimeLimit": json_number(body, "instanceTimeLimit", 0),
        "instanceRetryNum": json_number(body, "instanceRetryNum", 0),
        "taskRetryNum": json_number(body, "taskRetryNum", 0),
        "minCpuCores": float(json_number(body, "minCpuCores", 0, integral=False)),
        "minMemorySpace": float(json_number(body, "minMemorySpace", 0, integral=False)),
        "minDiskSpace": float(json_number(body, "minDiskSpace", 0, integral=False)),
        "status": 1 if body.get("enable", True) is not False else 2,
        "designatedWorkers": json_string(body, "designatedWorkers"),
        "maxWorkerCount": json_number(body, "maxWorkerCount", 0),
        "notifyUserIds": ",".join(str(u) for u in json_list(body, "notifyUserIds")) or None,
        "extra": json_string(body, "extra"), "dispatchStrategyConfig": json_string(body, "dispatchStrategyConfig"),
        "lifecycle": json.dumps(body["lifeCycle"]) if body.get("lifeCycle") else None,
        "alarmConfig": body.get("alarmConfig"), "tag": json_string(body, "tag"),
        "logConfig": body.get("logConfig"),
        "advancedRuntimeConfig": body.get("advancedRuntimeConfig"),
        "gmtCreate": now, "gmtModified": now, "nextTriggerTime": None,
    }
    for field in ENUMS:
        job[field] = json_enum(body, field)
    if job["dispatchStrategy"] is None:
        job["dispatchStrategy"] = ENUMS["dispatchStrategy"]["HEALTH_FIRST"]
    for field in ("jobName", "appId", "processorInfo", "executeType", "processorType",
                  "timeExpressionType"):
        if job[field] is None or job[field] == "":
            raise powerjob_error(f"{field} can't be empty")
    # NOTE: time expressions of types other than API and the lifecycle end are
    # stored without the server's checks.
    return job


def job_dto(job):
    dto = dict(job)
    dto["gmtCreate"] = iso_date(job["gmtCreate"])
    dto["gmtModified"] = iso_date(job["gmtModified"])
    return dto
