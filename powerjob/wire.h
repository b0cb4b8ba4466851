// The PowerJob OpenAPI wire format, without any networking: form bodies,
// the {success, data, message, code} envelope, int64 ids, and the JSON of
// jobs and instances. Kept apart from the HTTP code so it can be tested on
// its own.

#ifndef SVCD_POWERJOB_WIRE_H_
#define SVCD_POWERJOB_WIRE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/status.h"
#include "powerjob/model.h"

namespace svcd::powerjob::wire {

// The fields of an application/x-www-form-urlencoded body, in order.
using FormFields = std::vector<std::pair<std::string, std::string>>;

// Returns the fields as `name=value&...`, each byte other than
// [A-Za-z0-9*-._] percent-encoded and spaces as "+", as HTML forms do.
std::string EncodeForm(const FormFields& fields);

// The reply envelope of every OpenAPI call (ResultDTO, or PowerResultDTO
// with `code` on 5.x).
struct Envelope {
  bool success = false;
  nlohmann::json data;  // null when absent
  std::string message;  // "" when absent or null
  std::string code;     // "" when absent or null; a number is kept as its decimal text
};

// Parses a reply body. Unknown keys are ignored. Returns Internal naming the
// problem when the body is not a JSON object or `success` is not a boolean.
StatusOr<Envelope> ParseEnvelope(std::string_view body);

// Reads an int64 from a JSON integer, or from a string of decimal digits
// with an optional leading '-'. Fractions, exponents and values outside
// int64 are rejected, so an id never passes through a double. Returns
// Internal naming `field` otherwise.
StatusOr<int64_t> ReadInt64(const nlohmann::json& value, std::string_view field);

// Returns the request JSON of saveJob: the fields of `spec` under PowerJob's
// names, with `appId`; `id` only when set, and `extra` and `tag` only when
// not empty (the official client leaves null fields out).
nlohmann::json EncodeJobSpec(const JobSpec& spec, int64_t app_id);

// Parses fetchJob's data. Enum fields may be integers or enum names; names
// are turned into PowerJob's integer codes. Returns Internal naming the field
// on a missing id or a value of the wrong type.
StatusOr<JobInfo> ParseJobInfo(const nlohmann::json& data);

// Parses fetchInstanceInfo's data; instanceId and status are required,
// every other field may be absent or null. Dates (gmtCreate, gmtModified)
// are ignored in either of their forms (number or ISO text).
StatusOr<InstanceInfo> ParseInstanceInfo(const nlohmann::json& data);

// The data of a successful authApp call (5.1).
struct AppAuth {
  int64_t app_id = 0;
  std::string token;  // opaque; a secret, never logged
};

// Parses authApp's data. Returns Internal when appId is not an int64 or the
// token is missing, empty, or contains a character that a header value
// cannot carry.
StatusOr<AppAuth> ParseAppAuth(const nlohmann::json& data);

// Returns the lower-case hex MD5 of `text`, which authApp takes as
// `encryptedPassword` with `encryptType` "md5".
std::string Md5Hex(std::string_view text);

// True for the codes of PowerJob's authentication failures: -300
// INVALID_REQUEST (a missing or inconsistent app id), -400 INCORRECT_PASSWORD,
// -401 INVALID_TOKEN, -402 INVALID_APP, -403 TOKEN_EXPIRED and -1002
// OPEN_API_AUTH_FAILED.
bool IsAuthErrorCode(std::string_view code);

// Returns the stdout part of a shell-processor result, which reads
// "[INPUT]: <stdout lines>;[ERROR]: <stderr lines>": the text between the
// leading "[INPUT]: " and the first ";[ERROR]: ". A result in another form is
// returned whole.
std::string ShellResultOutput(std::string_view result);

}  // namespace svcd::powerjob::wire

#endif  // SVCD_POWERJOB_WIRE_H_
