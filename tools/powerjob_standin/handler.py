"""The HTTP layer: /openApi/ operations with PowerJob's envelopes, and /_standin/."""

import http.server
import ipaddress
import json
import time
import urllib.parse

from .protocol import (HEADER_APP_ID, HEADER_AUTH_PASSED, HEADER_TOKEN, LOG, MAX_BODY_BYTES,
                       MAX_FORM_BYTES, PROGRAM, JavaError, iso_date, not_readable, now_ms)

# op: (method name, body kind, 4.3 has it)
OPERATIONS = {
    "assert": ("op_assert", "form", True),
    "authApp": ("op_auth_app", "json", False),
    "saveJob": ("op_save_job", "json", True),
    "fetchJob": ("op_fetch_job", "form", True),
    "fetchAllJob": ("op_fetch_all_job", "form", True),
    "disableJob": ("op_disable_job", "form", True),
    "enableJob": ("op_enable_job", "form", True),
    "deleteJob": ("op_delete_job", "form", True),
    "runJob": ("op_run_job", "form", True),
    "stopInstance": ("op_stop_instance", "form", True),
    "cancelInstance": ("op_cancel_instance", "form", True),
    "retryInstance": ("op_retry_instance", "form", True),
    "fetchInstanceStatus": ("op_fetch_instance_status", "form", True),
    "fetchInstanceInfo": ("op_fetch_instance_info", "form", True),
}

REDACTED_KEYS = {"password", "encryptedPassword", "token"}


def redact(values):
    """Copies a parameter map or reply for the call log, without passwords or tokens."""
    if not isinstance(values, dict):
        return values
    return {k: ("<redacted>" if k in REDACTED_KEYS and v is not None else redact(v))
            for k, v in values.items()}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = PROGRAM
    standin = None  # set by serve()

    def log_message(self, format, *args):
        pass  # one line per call is written by finish_call instead

    # -- replies

    def send_body(self, status, document, headers=()):
        body = json.dumps(document, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def envelope(self, success, data=None, message=None, code=None, coded=False):
        document = {"success": success, "data": data, "message": message}
        if coded and self.standin.options.profile == "5.1":
            document["code"] = code
        return document

    def not_found(self):
        self.send_body(404, {"timestamp": iso_date(now_ms()), "status": 404,
                             "error": "Not Found", "path": self.path.split("?")[0]})

    # -- request decoding

    def read_body(self):
        """Reads a Content-Length or chunked body, or raises ValueError or OverflowError."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked_body()
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            raise ValueError(f"invalid Content-Length {length!r}")
        if int(length) > MAX_BODY_BYTES:
            raise OverflowError(int(length))
        return self.rfile.read(int(length))

    def read_chunked_body(self):
        chunks, total = [], 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError(f"invalid chunk size {size_line!r}") from None
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise OverflowError(total)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)  # the CRLF after the chunk
        while self.rfile.readline(8192).strip():
            pass  # trailer fields, up to the empty line
        return b"".join(chunks)

    def form_params(self, raw, query):
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        content_type = self.headers.get("Content-Type", "").lower()
        if content_type.startswith("application/x-www-form-urlencoded"):
            if len(raw) > MAX_FORM_BYTES:
                # Spring Boot's embedded Tomcat skips a form body above
                # server.tomcat.max-http-form-post-size (2 MB by default), so only
                # query-string parameters bind.
                LOG.warning("form body of %d bytes is above %d bytes and is ignored, as "
                            "Spring Boot ignores it", len(raw), MAX_FORM_BYTES)
                return params
            body = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
            for key, values in body.items():
                params.setdefault(key, values[0])
        return params

    def json_body(self, raw):
        content_type = self.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            raise JavaError("HttpMediaTypeNotSupportedException",
                            f"Content type '{content_type}' not supported")
        if not raw:
            raise JavaError("HttpMessageNotReadableException", "Required request body is missing")
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise not_readable(str(error)) from None
        if not isinstance(document, dict):
            raise not_readable(f"Cannot deserialize an object from {type(document).__name__} "
                               "value; the body must be a JSON object")
        return document

    # -- dispatch

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        try:
            self.route_checked(method)
        except OverflowError as error:
            LOG.warning('"%s" rejected: body of %s bytes is too large', self.requestline, error)
            self.send_body(413, {"error": f"the body of {error} bytes is above the stand-in's "
                                 f"limit of {MAX_BODY_BYTES} bytes"})
            self.close_connection = True
        except ValueError as error:
            LOG.warning('"%s" rejected: %s', self.requestline, error)
            self.send_body(400, {"error": str(error)})
            self.close_connection = True
        except Exception:  # a stand-in bug: report it instead of a business reply
            LOG.exception('"%s" failed inside the stand-in', self.requestline)
            self.send_body(500, {"error": "internal error in the stand-in; see its log"})

    def route_checked(self, method):
        path, _, query = self.path.partition("?")
        if path.startswith("/_standin/"):
            self.control(method, path)
            return
        op = path[len("/openApi/"):] if path.startswith("/openApi/") else None
        spec = OPERATIONS.get(op)
        if spec is None or (self.standin.options.profile == "4.3" and not spec[2]):
            self.read_body()
            self.finish_call(method, op or path, {}, 404, None)
            self.not_found()
            return
        if self.refuse_for_server_down():
            return
        self.openapi(method, op, spec, query)

    def refuse_for_server_down(self):
        if self.standin.faults.get("server-down") is True:
            LOG.info('"%s" closed without a reply (server-down)', self.requestline)
            self.close_connection = True
            return True
        return False

    def openapi(self, method, op, spec, query):
        standin = self.standin
        profile = standin.options.profile
        raw = self.read_body()
        params = self.form_params(raw, query) if spec[1] == "form" else None
        if method != "POST":
            # Spring matches no handler, so no interceptor adds the auth header.
            error = JavaError("HttpRequestMethodNotSupportedException",
                              f"Request method '{method}' not supported")
            self.reply(method, op, params, self.envelope(False, None, error.text(), coded=True))
            return
        headers, document = self.intercept(op)
        if document is None:
            params, document = self.call_operation(op, spec, raw, params)
            if op == "authApp" and document["success"]:
                headers.append((HEADER_AUTH_PASSED, "true"))  # the controller adds it again
        self.reply(method, op, params, document, headers)

    def intercept(self, op):
        """Runs the 5.1 OpenApiInterceptor. Returns the headers to add and a rejection or None."""
        standin = self.standin
        if standin.options.profile != "5.1":
            return [], None
        if "openapi-auth" not in standin.faults:
            if "missing-auth-header" in standin.faults:
                return [], None
            return [(HEADER_AUTH_PASSED, "true")], None
        if op in ("assert", "authApp"):
            return [], None
        try:
            standin.check_token(self.headers)
        except JavaError as error:
            # The interceptor writes with NON_NULL, so "data" is absent.
            rejection = {"success": False, "message": error.message, "code": error.code}
            return [(HEADER_AUTH_PASSED, "false")], rejection
        return [(HEADER_AUTH_PASSED, "true")], None

    def call_operation(self, op, spec, raw, params):
        """Decodes the body and runs the operation. Returns the params and the envelope."""
        in_controller = False
        try:
            if spec[1] == "json":
                params = self.json_body(raw)
            in_controller = True
            data = getattr(self.standin, spec[0])(params)
            return params, self.envelope(True, data, coded=op == "authApp")
        except JavaError as error:
            if op == "authApp" and in_controller:
                # The authApp controller catches its own errors: a PowerJobException
                # gives its bare message, anything else code -500.
                if error.exception_class == "PowerJobException":
                    return params, self.envelope(False, None, error.message, error.code, True)
                return params, self.envelope(False, None, error.text(), "-500", True)
            return params, self.envelope(False, None, error.text(), error.code, coded=True)

    def reply(self, method, op, params, document, headers=()):
        slow = self.standin.faults.get("slow")
        if slow:
            time.sleep(slow)
        # The call is recorded before the reply is written. A client that
        # reads /_standin/calls after its reply then finds its call, and a
        # reply that fails to write (the client gave up) still counts.
        self.finish_call(method, op, params, 200, document)
        self.send_body(200, document, headers)

    def finish_call(self, method, op, params, status, document):
        call = {"time": now_ms(), "method": method, "op": op, "params": redact(params),
                "appIdHeader": self.headers.get(HEADER_APP_ID),
                "tokenHeader": "<redacted>" if self.headers.get(HEADER_TOKEN) else None,
                "httpStatus": status, "reply": redact(document)}
        self.standin.record_call(call)
        outcome = "-" if document is None else (
            "ok" if document.get("success") else f"failed: {document.get('message')}")
        LOG.info("%s /openApi/%s %d %s", method, op, status, outcome)

    # -- control API

    def control(self, method, path):
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            LOG.warning("control call from %s rejected", self.client_address[0])
            self.send_body(403, {"error": "the control API answers loopback clients only"})
            return
        if method == "GET" and path == "/_standin/calls":
            self.send_body(200, self.standin.control_snapshot())
        elif method == "GET" and path == "/_standin/instances":
            self.send_body(200, {"instances": self.standin.instances_snapshot()})
        elif method == "GET" and path == "/_standin/faults":
            self.send_body(200, {"faults": dict(self.standin.faults)})
        elif method == "POST" and path == "/_standin/faults":
            self.post_faults()
        else:
            self.send_body(404, {"error": f"no control route for {method} {path}; use GET "
                                 "/_standin/calls, GET /_standin/instances or "
                                 "GET/POST /_standin/faults"})

    def post_faults(self):
        try:
            document = json.loads(self.read_body() or b"null")
            faults = self.standin.update_faults(document)
        except ValueError as error:
            LOG.warning("POST /_standin/faults rejected: %s", error)
            self.send_body(400, {"error": str(error)})
            return
        self.send_body(200, {"faults": faults})
        down = faults.get("server-down")
        if down is not True and down is not None:
            self.standin.refuse_connections(down)
