// The HTTP and TCP checks, on the socket steps of socket_io.h.

#include <array>
#include <string>
#include <vector>

#include "api/version.h"
#include "probe/checks.h"
#include "probe/http_response_reader.h"
#include "probe/socket_io.h"
#include "probe/text.h"

namespace svcd::probe {
namespace {

ProbeResult Failure(FailureKind kind, std::string message) {
  ProbeResult result;
  result.failure = kind;
  result.message = std::move(message);
  return result;
}

bool HasHeader(const api::HttpProbe& http, std::string_view lower_name) {
  for (const api::HttpHeader& header : http.headers) {
    if (ToLower(header.name) == lower_name) return true;
  }
  return false;
}

// Writes the request. The probe's own headers follow the defaults, and a
// probe header named Host or User-Agent replaces the default one.
std::string BuildRequest(const api::HttpProbe& http, const std::string& authority) {
  std::string request = http.method + " " + http.path + " HTTP/1.1\r\n";
  if (!HasHeader(http, "host")) request += "Host: " + authority + "\r\n";
  if (!HasHeader(http, "user-agent")) {
    request += std::string("User-Agent: svcd-probe/") + kVersion + "\r\n";
  }
  if (!HasHeader(http, "accept")) request += "Accept: */*\r\n";
  for (const api::HttpHeader& header : http.headers) {
    request += header.name + ": " + header.value + "\r\n";
  }
  if (http.method == "POST" || !http.body.empty()) {
    request += "Content-Length: " + std::to_string(http.body.size()) + "\r\n";
  }
  request += "Connection: close\r\n\r\n";
  request += http.body;
  return request;
}

bool StatusAccepted(int status, const std::optional<int>& expected) {
  if (expected) return status == *expected;
  return status >= 200 && status <= 299;
}

// Whether the bytes read so far decide the result, so that reading can stop
// before the response ends. A rejected status still reads the start of the
// body, because the server's error text belongs in the message.
bool Decided(const HttpResponseReader& reader, const api::HttpProbe& http) {
  if (!reader.headers_done()) return false;
  if (!StatusAccepted(reader.status(), http.expect_status)) {
    return reader.body_prefix().size() >= HttpResponseReader::kBodyPrefixBytes;
  }
  return http.keyword.empty() || reader.keyword_found();
}

// Reads the response until it ends, the result is decided, or a step fails.
StepError ReadResponse(int fd, const api::HttpProbe& http, const Deadline& deadline,
                       HttpResponseReader& reader) {
  std::array<char, 16 * 1024> buffer;
  while (reader.state() == HttpResponseReader::State::kNeedMore && !Decided(reader, http)) {
    std::size_t received = 0;
    StepError error = ReceiveSome(fd, buffer.data(), buffer.size(), deadline, &received);
    if (!error.ok()) return error;
    if (received == 0) {
      reader.Finish();
      break;
    }
    reader.Consume(std::string_view(buffer.data(), received));
  }
  return {};
}

ProbeResult JudgeStatus(const HttpResponseReader& reader, const api::HttpProbe& http,
                        const std::string& request_line) {
  int status = reader.status();
  std::string head = "HTTP " + std::to_string(status) + " from " + request_line;
  ProbeResult result;
  result.http_status = status;
  if (status >= 300 && status <= 399) {
    result.failure = FailureKind::kRedirect;
    std::string target = reader.location().empty() ? "" : " to " + Quote(reader.location());
    result.message = head + " redirects" + target + "; redirects are not followed";
    return result;
  }
  result.failure = FailureKind::kBadStatus;
  std::string expected = http.expect_status ? std::to_string(*http.expect_status) : "2xx";
  result.message = head + ", expected " + expected;
  if (!reader.body_prefix().empty()) {
    result.message += ", body: " + Quote(reader.body_prefix(), 200);
  }
  return result;
}

// Turns what was read into a result: first the status, then the keyword.
ProbeResult Judge(const HttpResponseReader& reader, const StepError& read_error,
                  const api::HttpProbe& http, const std::string& request_line) {
  if (!reader.headers_done()) {
    if (!read_error.ok()) return Failure(read_error.kind, request_line + ": " + read_error.message);
    return Failure(FailureKind::kProtocolError, request_line + ": " + reader.error());
  }
  if (!StatusAccepted(reader.status(), http.expect_status)) {
    return JudgeStatus(reader, http, request_line);
  }
  std::string head = "HTTP " + std::to_string(reader.status()) + " from " + request_line;
  ProbeResult result;
  result.http_status = reader.status();
  if (http.keyword.empty() || reader.keyword_found()) {
    result.success = true;
    result.message = http.keyword.empty() ? head : head + " contains " + Quote(http.keyword);
    return result;
  }
  if (!read_error.ok()) {
    result.failure = read_error.kind;
    result.message =
        head + ", then " + read_error.message + " before " + Quote(http.keyword) + " was found";
  } else if (reader.state() == HttpResponseReader::State::kError) {
    result.failure = FailureKind::kProtocolError;
    result.message = head + ", then " + reader.error();
  } else {
    result.failure = FailureKind::kKeywordMissing;
    std::string scope = reader.body_cut()
                            ? "the first " + std::to_string(reader.body_bytes()) +
                                  " bytes of the body (the rest was not read)"
                            : "the " + std::to_string(reader.body_bytes()) + "-byte body";
    result.message = Quote(http.keyword) + " not found in " + scope + " of " + head;
  }
  return result;
}

}  // namespace

ProbeResult RunHttpCheck(const ProbeTarget& target, const reconciler::Clock& clock,
                         const CheckLimits& limits) {
  const api::HttpProbe& http = *target.probe.http;
  Deadline deadline(clock, std::chrono::seconds(target.probe.timeout_seconds));
  int port = EffectivePort(target);
  std::string authority = HostPort(target.address, port);
  std::string request_line = http.method + " http://" + authority + http.path;

  std::vector<SocketAddress> addresses;
  StepError error = ResolveAddresses(UnbracketAddress(target.address), port, &addresses);
  if (!error.ok()) return Failure(error.kind, error.message);
  UniqueFd fd;
  error = ConnectAny(addresses, deadline, authority, &fd);
  if (!error.ok()) return Failure(error.kind, error.message);
  error = SendAll(fd.get(), BuildRequest(http, authority), deadline);
  if (!error.ok()) return Failure(error.kind, request_line + ": " + error.message);

  HttpResponseReader reader(http.keyword, limits.max_body_bytes);
  error = ReadResponse(fd.get(), http, deadline, reader);
  return Judge(reader, error, http, request_line);
}

ProbeResult RunTcpCheck(const ProbeTarget& target, const reconciler::Clock& clock) {
  Deadline deadline(clock, std::chrono::seconds(target.probe.timeout_seconds));
  int port = EffectivePort(target);
  std::string authority = HostPort(target.address, port);

  std::vector<SocketAddress> addresses;
  StepError error = ResolveAddresses(UnbracketAddress(target.address), port, &addresses);
  if (!error.ok()) return Failure(error.kind, error.message);
  UniqueFd fd;
  error = ConnectAny(addresses, deadline, authority, &fd);
  if (!error.ok()) return Failure(error.kind, error.message);
  ProbeResult result;
  result.success = true;
  result.message = "TCP connection to " + authority + " succeeded";
  return result;
}

}  // namespace svcd::probe
