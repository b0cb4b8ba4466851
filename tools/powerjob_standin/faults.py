"""The faults that a test can switch on, by name, with their values."""

# name: (value kind, help). Kinds: None takes no value, "seconds" a number
# >= 0, "count" an integer >= 1, "text" any string, "workers" a comma list.
FAULTS = {
    "no-worker": ("workers", "the listed workers (all when no value) are offline, so "
                  "runJob fails with 'no worker available'"),
    "overloaded": (None, "every worker is overloaded, so instances stay in status 1 "
                   "until the 30 s check dispatches them after the fault is cleared"),
    "stuck-dispatch": (None, "workers never receive a dispatch, so instances stay in "
                       "status 2 and nothing runs; the 60 s check dispatches them again"),
    "duplicate-delivery": ("seconds", "each dispatch runs the script twice, the second "
                           "VALUE seconds after the first (default 0)"),
    "flip-running": ("count", "a stop does not reach the worker, and the next status "
                     "fetch reads 3 again; at most VALUE times per instance (default 1)"),
    "server-down": ("seconds", "without a value, /openApi/ connections are closed with "
                    "no reply; with VALUE, connections are refused for VALUE seconds"),
    "slow": ("seconds", "every /openApi/ reply is sent VALUE seconds late"),
    "reject-auth": (None, "every password check fails, as with wrong credentials"),
    "password": ("text", "the app's password becomes VALUE"),
    "app-deleted": (None, "the app no longer exists"),
    "openapi-auth": (None, "5.1: oms.auth.openapi.enable=true, so calls need a token"),
    "token-expired": (None, "5.1: every token reads as expired"),
    "missing-auth-header": (None, "5.1: replies lack X-POWERJOB-AUTH-PASSED, as 5.1.0 did"),
}
REQUIRED_VALUE = {"slow", "password"}


def parse_fault_value(name, value):
    """Returns the checked value of fault `name`, or raises ValueError that names the fix."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
    kind = FAULTS[name][0]
    if value is None or value is True:
        if name in REQUIRED_VALUE:
            raise ValueError(f"fault {name!r} needs a value, such as {name}=2")
        return True
    if kind is None:
        raise ValueError(f"fault {name!r} takes no value, not {value!r}")
    if kind == "text":
        return str(value)
    if kind == "workers":
        return [part for part in str(value).split(",") if part]
    try:
        number = float(value) if kind == "seconds" else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"fault {name!r} needs a number, not {value!r}") from None
    if kind == "seconds" and not 0 <= number <= 86400:
        raise ValueError(f"fault {name!r} needs seconds in 0..86400, not {value!r}")
    if kind == "count" and number < 1:
        raise ValueError(f"fault {name!r} needs a count >= 1, not {value!r}")
    return number


def fault_from_argument(text):
    name, sep, value = text.partition("=")
    return name, parse_fault_value(name, value if sep else None)
