#include "cmd/svcctl/resources.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "api/codec.h"

namespace svcd::ctl {
namespace {

constexpr char kApiPrefix[] = "/apis/svcd.io/v1alpha1";

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kinds = {
      {"Host", "hosts", "host", false},
      {"ServiceTemplate", "servicetemplates", "servicetemplate", false},
      {"ServiceDeploy", "servicedeploys", "servicedeploy", true},
  };
  return kinds;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

}  // namespace

StatusOr<KindInfo> ResolveKind(const std::string& name) {
  const std::string lower = Lower(name);
  for (const KindInfo& info : Kinds()) {
    if (lower == info.plural || lower == info.singular || lower == Lower(info.kind)) return info;
  }
  if (lower == "st") return Kinds()[1];
  if (lower == "sd") return Kinds()[2];
  return Status::InvalidArgument("unknown resource type \"" + name +
                                 "\"; use hosts, servicetemplates (st) or servicedeploys (sd)");
}

KindInfo KindInfoOf(const std::string& kind) {
  for (const KindInfo& info : Kinds()) {
    if (info.kind == kind) return info;
  }
  return Kinds()[0];
}

StatusOr<std::pair<KindInfo, std::string>> ResolveKindSlashName(const std::string& text) {
  const size_t slash = text.find('/');
  StatusOr<KindInfo> kind = ResolveKind(text.substr(0, slash));
  if (!kind.ok()) return kind.status();
  std::string name = slash == std::string::npos ? "" : text.substr(slash + 1);
  return std::make_pair(*kind, name);
}

std::string CollectionPath(const KindInfo& kind, const std::string& ns) {
  if (kind.namespaced && !ns.empty()) {
    return std::string(kApiPrefix) + "/namespaces/" + UrlEncode(ns) + "/" + kind.plural;
  }
  return std::string(kApiPrefix) + "/" + kind.plural;
}

std::string ObjectPath(const KindInfo& kind, const std::string& ns, const std::string& name) {
  const std::string effective_ns = ns.empty() ? api::kDefaultNamespace : ns;
  return CollectionPath(kind, kind.namespaced ? effective_ns : "") + "/" + UrlEncode(name);
}

ApiClient MakeClient(const GlobalOptions& options) {
  ClientOptions client;
  if (!options.server.empty()) {
    client.server = options.server;
  } else if (const char* env = std::getenv("SVCD_SERVER"); env != nullptr && *env != '\0') {
    client.server = env;
  }
  while (!client.server.empty() && client.server.back() == '/') client.server.pop_back();
  if (client.server.find("://") == std::string::npos) client.server = "http://" + client.server;
  if (!options.token.empty()) {
    client.token = options.token;
  } else if (const char* env = std::getenv("SVCD_TOKEN"); env != nullptr) {
    client.token = env;
  }
  StatusOr<int64_t> timeout = ParseDurationMs(options.timeout);
  if (timeout.ok()) client.timeout = std::chrono::seconds(std::max<int64_t>(1, *timeout / 1000));
  return ApiClient(client);
}

std::string EffectiveNamespace(const GlobalOptions& options) {
  return options.namespace_.empty() ? api::kDefaultNamespace : options.namespace_;
}

StatusOr<int64_t> ParseDurationMs(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) digits++;
  const std::string unit = text.substr(digits);
  if (digits == 0) {
    return Status::InvalidArgument("invalid duration \"" + text +
                                   "\": use a number with a unit, such as 30s, 5m or 1h");
  }
  // Nine digits of hours stay far below the int64 range in milliseconds.
  if (digits > 9) {
    return Status::InvalidArgument("invalid duration \"" + text +
                                   "\": the number has more than 9 digits; use at most "
                                   "999999999 of a unit, such as 24h");
  }
  const int64_t value = std::stoll(text.substr(0, digits));
  if (unit == "ms") return value;
  if (unit.empty() || unit == "s") return value * 1000;
  if (unit == "m") return value * 60'000;
  if (unit == "h") return value * 3'600'000;
  return Status::InvalidArgument("invalid duration unit in \"" + text + "\": use ms, s, m or h");
}

int PrintError(const Status& status) {
  if (status.causes().empty()) {
    std::cerr << "error: " << status.message() << "\n";
  } else {
    if (!status.message().empty()) std::cerr << "error: " << status.message() << "\n";
    // Thousands of documents with the same mistake would bury the first lines.
    constexpr size_t kMaxCauses = 50;
    const std::vector<Cause>& causes = status.causes();
    for (size_t i = 0; i < causes.size() && i < kMaxCauses; ++i) {
      std::cerr << "error: " << causes[i].ToString() << "\n";
    }
    if (causes.size() > kMaxCauses) {
      std::cerr << "error: and " << causes.size() - kMaxCauses << " more problems\n";
    }
  }
  return 1;
}

StatusOr<nlohmann::json> CallJson(const ApiClient& client, const std::string& method,
                                  const std::string& path, const std::string& body) {
  StatusOr<HttpReply> reply = client.Send(method, path, body);
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return ReplyToStatus(*reply);
  nlohmann::json doc = nlohmann::json::parse(reply->body, nullptr, false);
  if (doc.is_discarded()) {
    return Status::Internal("svcd sent a reply that is not JSON (HTTP " +
                            std::to_string(reply->status) + ")");
  }
  return doc;
}

StatusOr<std::string> JsonObjectToYaml(const nlohmann::json& object) {
  StatusOr<std::vector<api::Object>> decoded =
      api::DecodeObjects(object.dump(), api::Format::kJson, {.source_name = "server reply"});
  if (!decoded.ok()) return decoded.status();
  if (decoded->size() != 1) return Status::Internal("expected one object in the server reply");
  return api::EncodeYaml(decoded->front());
}

std::string FormatAge(const std::string& rfc3339) {
  std::tm tm{};
  if (rfc3339.size() < 19 || strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return "<unknown>";
  }
  const std::time_t then = timegm(&tm);
  const int64_t seconds = std::max<int64_t>(0, std::time(nullptr) - then);
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string EventAge(const nlohmann::json& event) {
  std::string age = FormatAge(event.value("time", ""));
  const int64_t count = event.value("count", int64_t{1});
  if (count > 1) {
    age += " (x" + std::to_string(count) + " over " + FormatAge(event.value("firstTime", "")) + ")";
  }
  return age;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    std::cout << line << "\n";
  }
}

}  // namespace svcd::ctl
