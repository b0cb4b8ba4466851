"""App authentication: /assert of both profiles, and /authApp and tokens of 5.1."""

import base64
import hashlib
import hmac
import json
import time
import uuid

from .protocol import (HEADER_APP_ID, HEADER_TOKEN, TOKEN_LIFETIME_SECONDS, JavaError,
                       coded_error, java_string, json_string, md5_hex, powerjob_error)


class AuthOperations:
    """Mixed into Standin, which provides options, faults, lock, app_id and token_key."""

    def app_password(self):
        return self.faults.get("password", self.options.password)

    def find_app(self, app_name):
        if app_name != self.options.app or "app-deleted" in self.faults:
            return None
        return self.app_id

    def password_matches(self, password, encrypt_type):
        """Mirrors AppInfoServiceImpl.checkPassword of 5.1.1."""
        stored = self.app_password()
        if not encrypt_type or encrypt_type.lower() == "none":
            if password is None:
                raise JavaError("NullPointerException", "")
            matches = password == stored
        elif encrypt_type.lower() == "md5":
            if password is None:
                raise JavaError("NullPointerException", "")
            matches = password.lower() == md5_hex(stored)
        else:
            raise coded_error("INVALID_REQUEST", "-300", f"unknown_encryptType:{encrypt_type}")
        return matches and "reject-auth" not in self.faults

    # -- authentication

    def op_assert(self, params):
        app_name, password = params.get("appName"), params.get("password")
        with self.lock:
            app_id = self.find_app(app_name)
            if self.options.profile == "4.3":
                if app_id is None:
                    raise powerjob_error(f"can't find appInfo by appName: {app_name}")
                stored = self.app_password()
                if password != stored or "reject-auth" in self.faults:
                    raise powerjob_error("password error!")
                return app_id
            if app_id is None:
                raise coded_error("INVALID_APP", "-402", app_name)
            if not self.password_matches(password, None):
                raise coded_error("INCORRECT_PASSWORD", "-400")
            return app_id

    def op_auth_app(self, body):
        """Returns an AppAuthResult. Its errors carry the message without a class name."""
        app_name = json_string(body, "appName")
        encrypted = json_string(body, "encryptedPassword")
        encrypt_type = json_string(body, "encryptType")
        with self.lock:
            app_id = self.find_app(app_name)
            if app_id is None:
                raise coded_error("INVALID_APP", "-402", java_string(app_name))
            if not self.password_matches(encrypted, encrypt_type):
                raise coded_error("INCORRECT_PASSWORD", "-400")
        claims = {"appId": app_id, "password": encrypted, "encryptType": encrypt_type,
                  "sub": "PowerJob", "exp": int(time.time()) + TOKEN_LIFETIME_SECONDS,
                  "jti": str(uuid.uuid4())}
        return {"appId": app_id, "token": self.sign_token(claims), "extra": None}

    def sign_token(self, claims):
        def encode(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        head = encode(json.dumps({"alg": "HS256"}).encode())
        body = encode(json.dumps(claims).encode())
        mac = hmac.new(self.token_key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{encode(mac)}"

    def parse_token(self, token):
        """Returns the claims, or raises INVALID_TOKEN or TOKEN_EXPIRED as the interceptor does.

        NOTE: the text after INVALID_TOKEN: and TOKEN_EXPIRED: comes from the
        JWT library on the real server and differs from these texts.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise coded_error("INVALID_TOKEN", "-401", "token is not a JWS with 3 parts")
        mac = hmac.new(self.token_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256)
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
        if not hmac.compare_digest(signature, parts[2]):
            raise coded_error("INVALID_TOKEN", "-401", "signature does not match")
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if "token-expired" in self.faults or claims.get("exp", 0) < time.time():
            raise coded_error("TOKEN_EXPIRED", "-403", f"token expired at {claims.get('exp')}")
        return claims

    def check_token(self, headers):
        """Checks the token headers as the 5.1 interceptor does with oms.auth.openapi.enable=true."""
        app_id_header = headers.get(HEADER_APP_ID)
        token = headers.get(HEADER_TOKEN)
        if not app_id_header:
            raise coded_error("INVALID_REQUEST", "-300", "lack_of_appId_in_header")
        if not token:
            raise coded_error("OPEN_API_AUTH_FAILED", "-1002", "token_is_empty")
        claims = self.parse_token(token)
        if app_id_header != java_string(claims.get("appId")):
            raise coded_error("INVALID_REQUEST", "-300", "Inconsistent_appId_from_token_and_header")
        with self.lock:
            if claims.get("appId") != self.app_id or "app-deleted" in self.faults:
                raise coded_error("INVALID_APP", "-402", "can_not_find_app")
            if not self.password_matches(claims.get("password"), claims.get("encryptType")):
                raise coded_error("INCORRECT_PASSWORD", "-400")
