"""App authentication of the stand-in: /assert, 5.1's /authApp and its token checks."""

import unittest

from standin_support import APP, PASSWORD, Standin, StandinTestCase, md5

AUTH_HEADER = "X-POWERJOB-AUTH-PASSED"


class AuthAppTest(StandinTestCase):
    PROFILE = "5.1"

    def auth(self, password=PASSWORD, encrypt_type="md5", app=APP):
        encrypted = md5(password) if encrypt_type == "md5" else password
        return self.standin.post_json("authApp", {"appName": app, "encryptedPassword": encrypted,
                                                  "encryptType": encrypt_type})

    def token(self):
        return self.standin.data(self.auth())["token"]

    def test_md5_password_returns_token(self):
        reply = self.auth()
        self.assertEqual(reply.json["code"], None)
        data = self.standin.data(reply)
        self.assertEqual(data["appId"], 1)
        self.assertIsInstance(data["token"], str)
        self.assertIsNone(data["extra"])
        # With OpenAPI auth off, the interceptor and the controller each add the header.
        self.assertEqual(reply.header_values(AUTH_HEADER), ["true", "true"])

    def test_upper_case_md5_and_plaintext_pass(self):
        reply = self.standin.post_json("authApp", {"appName": APP, "encryptType": "MD5",
                                                   "encryptedPassword": md5(PASSWORD).upper()})
        self.assertEqual(self.standin.data(reply)["appId"], 1)
        self.assertEqual(self.standin.data(self.auth(encrypt_type="none"))["appId"], 1)
        self.assertEqual(self.standin.data(self.auth(encrypt_type=""))["appId"], 1)

    def test_wrong_password_is_incorrect_password(self):
        reply = self.auth(password="wrong")
        self.assert_failure(reply, "INCORRECT_PASSWORD", "-400")

    def test_unknown_app_is_invalid_app(self):
        self.assert_failure(self.auth(app="nope"), "INVALID_APP:nope", "-402")

    def test_unknown_encrypt_type_is_invalid_request(self):
        reply = self.auth(encrypt_type="sha1")
        self.assert_failure(reply, "INVALID_REQUEST:unknown_encryptType:sha1", "-300")

    def test_missing_password_is_unknown_error(self):
        reply = self.standin.post_json("authApp", {"appName": APP, "encryptType": "md5"})
        self.assert_failure(reply, "NullPointerException: ", "-500")

    def test_reject_auth_fault_rejects_right_password(self):
        self.standin.set_faults({"reject-auth": True})
        self.assert_failure(self.auth(), "INCORRECT_PASSWORD", "-400")
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assert_failure(reply, "PowerJobException: INCORRECT_PASSWORD", "-400")

    def test_missing_auth_header_fault_drops_header(self):
        self.standin.set_faults({"missing-auth-header": True})
        reply = self.standin.post_form("fetchJob", {"jobId": 1, "appId": 1})
        self.assertEqual(reply.header_values(AUTH_HEADER), [])
        self.assertEqual(self.auth().header_values(AUTH_HEADER), ["true"])

    # -- oms.auth.openapi.enable=true

    def assert_rejected(self, reply, message, code):
        """An interceptor rejection: header false, and no "data" key (NON_NULL)."""
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.header_values(AUTH_HEADER), ["false"])
        self.assertEqual(reply.json, {"success": False, "message": message, "code": code})

    def fetch_all(self, headers):
        return self.standin.post_form("fetchAllJob", {"appId": 1}, headers=headers)

    def test_enabled_auth_accepts_valid_token(self):
        token = self.token()
        self.standin.set_faults({"openapi-auth": True})
        reply = self.fetch_all({"X-POWERJOB-APP-ID": "1", "X-POWERJOB-ACCESS-TOKEN": token})
        self.assertIsInstance(self.standin.data(reply), list)
        self.assertEqual(reply.header_values(AUTH_HEADER), ["true"])

    def test_enabled_auth_checks_headers_in_order(self):
        token = self.token()
        self.standin.set_faults({"openapi-auth": True})
        self.assert_rejected(self.fetch_all({}), "INVALID_REQUEST:lack_of_appId_in_header",
                             "-300")
        self.assert_rejected(self.fetch_all({"X-POWERJOB-APP-ID": "1"}),
                             "OPEN_API_AUTH_FAILED:token_is_empty", "-1002")
        reply = self.fetch_all({"X-POWERJOB-APP-ID": "1", "X-POWERJOB-ACCESS-TOKEN": "abc"})
        self.assertEqual(reply.json["code"], "-401")
        self.assertTrue(reply.json["message"].startswith("INVALID_TOKEN:"))
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        reply = self.fetch_all({"X-POWERJOB-APP-ID": "1", "X-POWERJOB-ACCESS-TOKEN": forged})
        self.assertEqual(reply.json["code"], "-401")
        self.assert_rejected(self.fetch_all({"X-POWERJOB-APP-ID": "2",
                                             "X-POWERJOB-ACCESS-TOKEN": token}),
                             "INVALID_REQUEST:Inconsistent_appId_from_token_and_header", "-300")

    def test_enabled_auth_expired_token(self):
        token = self.token()
        self.standin.set_faults({"openapi-auth": True, "token-expired": True})
        reply = self.fetch_all({"X-POWERJOB-APP-ID": "1", "X-POWERJOB-ACCESS-TOKEN": token})
        self.assertEqual(reply.json["code"], "-403")
        self.assertTrue(reply.json["message"].startswith("TOKEN_EXPIRED:"))
        self.assertEqual(reply.header_values(AUTH_HEADER), ["false"])

    def test_enabled_auth_changed_password(self):
        token = self.token()
        self.standin.set_faults({"openapi-auth": True, "password": "new password"})
        self.assert_rejected(self.fetch_all({"X-POWERJOB-APP-ID": "1",
                                             "X-POWERJOB-ACCESS-TOKEN": token}),
                             "INCORRECT_PASSWORD", "-400")
        self.assert_failure(self.auth(), "INCORRECT_PASSWORD", "-400")
        self.assertEqual(self.standin.data(self.auth(password="new password"))["appId"], 1)

    def test_enabled_auth_deleted_app(self):
        token = self.token()
        self.standin.set_faults({"openapi-auth": True, "app-deleted": True})
        self.assert_rejected(self.fetch_all({"X-POWERJOB-APP-ID": "1",
                                             "X-POWERJOB-ACCESS-TOKEN": token}),
                             "INVALID_APP:can_not_find_app", "-402")
        self.assert_failure(self.auth(), f"INVALID_APP:{APP}", "-402")

    def test_enabled_auth_lets_auth_calls_through(self):
        self.standin.set_faults({"openapi-auth": True})
        reply = self.auth()
        self.assertEqual(self.standin.data(reply)["appId"], 1)
        self.assertEqual(reply.header_values(AUTH_HEADER), ["true"])  # only the controller's
        reply = self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.assertEqual(self.standin.data(reply), 1)
        self.assertEqual(reply.header_values(AUTH_HEADER), [])
        failed = self.auth(password="wrong")
        self.assertEqual(failed.header_values(AUTH_HEADER), [])

    def test_calls_redact_passwords_and_tokens(self):
        token = self.token()
        self.standin.post_form("assert", {"appName": APP, "password": PASSWORD})
        self.fetch_all({"X-POWERJOB-APP-ID": "1", "X-POWERJOB-ACCESS-TOKEN": token})
        calls = self.standin.calls()
        text = str(calls)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(md5(PASSWORD), text)
        self.assertNotIn(token, text)
        last = calls["calls"][-1]
        self.assertEqual(last["op"], "fetchAllJob")
        self.assertEqual(last["appIdHeader"], "1")
        self.assertEqual(last["tokenHeader"], "<redacted>")


class AssertWithoutPasswordTest(StandinTestCase):
    """An app without a password, on the 4.3 profile: the compare is null-safe."""

    PROFILE = "4.3"

    @classmethod
    def setUpClass(cls):
        cls.standin = Standin("4.3", password=None).start()

    def test_assert_without_password_passes(self):
        reply = self.standin.post_form("assert", {"appName": APP})
        self.assertEqual(self.standin.data(reply), 1)
        reply = self.standin.post_form("assert", {"appName": APP, "password": "x"})
        self.assert_failure(reply, "PowerJobException: password error!")


if __name__ == "__main__":
    unittest.main()
