#include "server/api_handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "api/codec.h"
#include "api/document.h"
#include "api/fields.h"
#include "api/rules.h"
#include "server/apply_service.h"
#include "server/legacy_deploy.h"
#include "server/path_check_handler.h"
#include "server/status_response.h"

namespace svcd::server {
namespace {

constexpr char kPrefix[] = "/apis/svcd.io/v1alpha1";

Response JsonResponse(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

// Reads ?dryRun: absent means a real write, "All" a dry run.
StatusOr<bool> DryRunOf(const Request& request) {
  auto it = request.query.find("dryRun");
  if (it == request.query.end()) return false;
  if (it->second == "All") return true;
  return Status::InvalidArgument("invalid dryRun \"" + it->second + "\": the only value is All");
}

bool IsYamlOrJsonType(const Request& request) {
  auto it = request.headers.find("content-type");
  if (it == request.headers.end()) return true;
  const std::string& type = it->second;
  for (const char* accepted :
       {"application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
        "text/plain", "application/apply-patch+yaml"}) {
    if (type.rfind(accepted, 0) == 0) return true;
  }
  return false;
}

// Decodes the objects of a request body. A body that is not YAML or JSON at
// all gets 400, and one that parses but contains invalid objects gets 422.
std::variant<std::vector<api::Object>, Response> ReadObjects(const Request& request) {
  if (!IsYamlOrJsonType(request)) {
    return BadRequestResponse("unsupported Content-Type " + request.headers.at("content-type") +
                              "; send application/yaml or application/json");
  }
  const api::Format format = api::DetectFormat(request.body);
  auto parsed = format == api::Format::kJson ? api::ParseJson(request.body)
                                             : api::ParseYamlStream(request.body);
  if (!parsed.ok()) {
    if (parsed.status().code() == Code::kResourceExhausted) return StatusResponse(parsed.status());
    Response response = StatusResponse(parsed.status());
    response.status = 400;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_object()) {
      body["code"] = 400;
      body["reason"] = "BadRequest";
      response.body = body.dump();
    }
    return response;
  }
  StatusOr<std::vector<api::Object>> objects =
      api::DecodeObjects(request.body, format, {.source_name = "request body"});
  if (!objects.ok()) return StatusResponse(objects.status());
  return std::move(*objects);
}

nlohmann::json ItemJson(const ApplyItem& item) {
  nlohmann::json out = {{"kind", item.kind},
                        {"name", item.name},
                        {"action", item.action},
                        {"object", api::EncodeJson(item.object)}};
  if (!item.namespace_.empty()) out["namespace"] = item.namespace_;
  return out;
}

StatusSubject SubjectOf(const std::string& kind, const PathParams& params) {
  auto it = params.find("name");
  return {kind, it == params.end() ? "" : it->second};
}

using ChangeHook =
    std::function<void(const std::string& kind, const std::string& ns, const std::string& name)>;

void Notify(const ChangeHook& hook, bool dry_run, const ApplyItem& item) {
  if (hook && !dry_run) hook(item.kind, item.namespace_, item.name);
}

// The resource routes of one kind, bound to the store.
class KindRoutes {
 public:
  KindRoutes(store::Store& store, ApplyService& apply, std::string kind, ChangeHook hook)
      : store_(store), apply_(apply), kind_(std::move(kind)), hook_(std::move(hook)) {}

  Response List(const Request& request, const PathParams& params) const {
    store::ListOptions options;
    options.kind = kind_;
    if (auto it = params.find("ns"); it != params.end()) options.namespace_ = it->second;
    if (auto it = request.query.find("labelSelector"); it != request.query.end()) {
      StatusOr<store::LabelSelector> selector = store::LabelSelector::Parse(it->second);
      // A malformed query parameter is a bad request (400), as in Kubernetes.
      if (!selector.ok()) return BadRequestResponse(selector.status().message());
      options.selector = *selector;
    }
    StatusOr<std::vector<api::Object>> objects = store_.List(options);
    if (!objects.ok()) return StatusResponse(objects.status());
    nlohmann::json items = nlohmann::json::array();
    for (const api::Object& object : *objects) items.push_back(api::EncodeJson(object));
    return JsonResponse(200, {{"apiVersion", api::kGroupVersion},
                              {"kind", kind_ + "List"},
                              {"metadata", nlohmann::json::object()},
                              {"items", items}});
  }

  Response Get(const PathParams& params, bool status_only) const {
    StatusOr<api::Object> object = store_.Get(KeyFrom(params));
    if (!object.ok()) return StatusResponse(object.status(), SubjectOf(kind_, params));
    nlohmann::json body = api::EncodeJson(*object);
    if (status_only) body.erase("spec");
    return JsonResponse(200, body);
  }

  // POST on the collection (create) and PUT on an object (replace).
  Response Write(const Request& request, const PathParams& params, store::Write::Op op) const {
    StatusOr<bool> dry_run = DryRunOf(request);
    if (!dry_run.ok()) return BadRequestResponse(dry_run.status().message());
    auto read = ReadObjects(request);
    if (auto* response = std::get_if<Response>(&read)) return *response;
    auto& objects = std::get<std::vector<api::Object>>(read);
    if (objects.size() != 1) {
      return StatusResponse(Status::InvalidArgument("expected exactly one object, got " +
                                                    std::to_string(objects.size()) + "; use POST " +
                                                    std::string(kPrefix) + "/apply for several"));
    }
    api::Object& object = objects.front();
    Status matches = MatchesPath(object, params);
    if (!matches.ok()) return StatusResponse(matches, SubjectOf(kind_, params));

    ApplyRequest apply_request{.objects = {object},
                               .op = op,
                               .user = request.user,
                               .role = request.role,
                               .dry_run = *dry_run};
    StatusOr<std::vector<ApplyItem>> items = apply_.Apply(apply_request);
    if (!items.ok()) {
      return StatusResponse(items.status(), {kind_, api::MetaOf(object).name});
    }
    const ApplyItem& item = items->front();
    Notify(hook_, *dry_run, item);
    return JsonResponse(item.action == "created" ? 201 : 200, api::EncodeJson(item.object));
  }

  Response Delete(const Request& request, const PathParams& params) const {
    StatusOr<bool> dry_run = DryRunOf(request);
    if (!dry_run.ok()) return BadRequestResponse(dry_run.status().message());
    auto force = request.query.find("force");
    const bool forced = force != request.query.end() && force->second == "true";
    StatusOr<ApplyItem> item =
        apply_.Delete(KeyFrom(params), request.user, request.role, forced, *dry_run);
    if (!item.ok()) return StatusResponse(item.status(), SubjectOf(kind_, params));
    Notify(hook_, *dry_run, *item);
    nlohmann::json body = api::EncodeJson(item->object);
    return JsonResponse(item->action == "deleting" ? 202 : 200, body);
  }

 private:
  store::ObjectKey KeyFrom(const PathParams& params) const {
    store::ObjectKey key{kind_, "", params.at("name")};
    if (auto it = params.find("ns"); it != params.end()) key.namespace_ = it->second;
    return key;
  }

  // The object's kind, namespace and name must agree with the path; an
  // omitted namespace takes the path's.
  Status MatchesPath(api::Object& object, const PathParams& params) const {
    if (api::KindOf(object) != kind_) {
      return Status::InvalidArgument("kind " + api::KindOf(object) + " sent to the " + kind_ +
                                     " collection");
    }
    api::ObjectMeta& meta = api::MetaOf(object);
    if (auto it = params.find("ns"); it != params.end()) {
      // The body's namespace was checked by the decoder but the path's was
      // not, and a deploy stored with an invalid one breaks every list.
      if (!IsObjectNameSegment(it->second)) {
        return Status::InvalidArgument(
            "invalid namespace " + api::QuoteForMessage(it->second) +
                " in the request path: use lower-case letters, digits and '-', at most 63 "
                "characters",
            {{"metadata.namespace", "invalid namespace"}});
      }
      if (meta.namespace_.empty()) meta.namespace_ = it->second;
      if (meta.namespace_ != it->second) {
        return Status::InvalidArgument(
            "metadata.namespace \"" + meta.namespace_ + "\" does not match the namespace \"" +
                it->second + "\" of the request path",
            {{"metadata.namespace", "must be " + it->second + " or omitted"}});
      }
    }
    if (auto it = params.find("name"); it != params.end() && meta.name != it->second) {
      return Status::InvalidArgument(
          "metadata.name \"" + meta.name + "\" does not match the name in the request path",
          {{"metadata.name", "must be " + it->second}});
    }
    return Status::Ok();
  }

  store::Store& store_;
  ApplyService& apply_;
  std::string kind_;
  ChangeHook hook_;
};

Response HandleApply(ApplyService& apply, const ChangeHook& hook, const Request& request) {
  StatusOr<bool> dry_run = DryRunOf(request);
  if (!dry_run.ok()) return BadRequestResponse(dry_run.status().message());
  ApplyRequest apply_request{.op = store::Write::Op::kApply,
                             .user = request.user,
                             .role = request.role,
                             .dry_run = *dry_run};
  if (auto it = request.query.find("applyset"); it != request.query.end()) {
    apply_request.apply_set = it->second;
  }
  if (auto it = request.query.find("prune"); it != request.query.end()) {
    if (it->second != "true" && it->second != "false") {
      return BadRequestResponse("invalid prune \"" + it->second + "\": use true or false");
    }
    apply_request.prune = it->second == "true";
  }
  if (!apply_request.apply_set.empty()) {
    static const std::regex kApplySetName("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$");
    if (!std::regex_match(apply_request.apply_set, kApplySetName)) {
      return StatusResponse(Status::InvalidArgument(
          "invalid apply set name " + api::QuoteForMessage(apply_request.apply_set) +
              ": use lower-case letters, digits, '-' and '.', at most 253 characters",
          {{"applyset", "invalid name"}}));
    }
  }
  auto read = ReadObjects(request);
  if (auto* response = std::get_if<Response>(&read)) return *response;
  apply_request.objects = std::move(std::get<std::vector<api::Object>>(read));

  StatusOr<std::vector<ApplyItem>> items = apply.Apply(apply_request);
  if (!items.ok()) return StatusResponse(items.status());
  nlohmann::json results = nlohmann::json::array();
  for (const ApplyItem& item : *items) {
    results.push_back(ItemJson(item));
    Notify(hook, *dry_run, item);
  }
  return JsonResponse(200, {{"apiVersion", api::kGroupVersion},
                            {"kind", "ApplyResult"},
                            {"dryRun", *dry_run},
                            {"results", results}});
}

std::string FormatTimeMs(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

StatusOr<int64_t> IntParam(const Request& request, const char* name, int64_t fallback);

// Returns the JSON of one event.
nlohmann::json EventJson(const store::Event& event) {
  return {{"type", event.type},
          {"reason", event.reason},
          {"message", event.message},
          {"time", FormatTimeMs(event.time_ms)},
          {"count", event.count},
          {"firstTime", FormatTimeMs(event.first_time_ms)},
          {"object",
           {{"kind", event.object_kind},
            {"namespace", event.object_namespace},
            {"name", event.object_name},
            {"uid", event.object_uid}}}};
}

Response EventListResponse(nlohmann::json items) {
  return JsonResponse(
      200, {{"apiVersion", api::kGroupVersion}, {"kind", "EventList"}, {"items", items}});
}

// GET .../events without uid or name: the newest ?limit=N (1..10000,
// default 500) events of the path's namespace, or of every namespace.
Response HandleRecentEvents(store::Store& store, const Request& request, const PathParams& params) {
  StatusOr<int64_t> limit = IntParam(request, "limit", 500);
  if (!limit.ok()) return BadRequestResponse(limit.status().message());
  if (*limit < 1 || *limit > 10000) {
    return BadRequestResponse("limit " + std::to_string(*limit) + " is outside 1..10000");
  }
  auto ns = params.find("ns");
  StatusOr<std::vector<store::Event>> events =
      store.ListRecentEvents(ns == params.end() ? "" : ns->second, static_cast<int>(*limit));
  if (!events.ok()) return StatusResponse(events.status());
  nlohmann::json items = nlohmann::json::array();
  for (const store::Event& event : *events) items.push_back(EventJson(event));
  return EventListResponse(std::move(items));
}

// GET .../events?uid=UID, or ?name=NAME for a deploy of the path's
// namespace; without either, HandleRecentEvents.
Response HandleEvents(store::Store& store, const Request& request, const PathParams& params) {
  std::string uid;
  if (auto it = request.query.find("uid"); it != request.query.end()) uid = it->second;
  // A malformed uid or name can match nothing, so it is an error rather
  // than an empty list.
  static const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  if (!uid.empty() && !std::regex_match(uid, kUuid)) {
    return BadRequestResponse("invalid uid " + api::QuoteForMessage(uid) +
                              ": use an object's metadata.uid, a lower-case UUID");
  }
  if (uid.empty()) {
    auto name = request.query.find("name");
    auto ns = params.find("ns");
    if (name == request.query.end()) return HandleRecentEvents(store, request, params);
    if (ns == params.end()) {
      return BadRequestResponse("?name=NAME needs a namespace: use /namespaces/NS/events");
    }
    if (!IsObjectNameSegment(name->second)) {
      return BadRequestResponse("invalid name " + api::QuoteForMessage(name->second) +
                                ": like metadata.name, it must be at most 63 lower-case letters, "
                                "digits or '-', starting and ending with a letter or digit");
    }
    StatusOr<api::Object> deploy = store.Get({api::kKindServiceDeploy, ns->second, name->second});
    if (!deploy.ok()) return StatusResponse(deploy.status());
    uid = api::MetaOf(*deploy).uid;
  }
  StatusOr<std::vector<store::Event>> events = store.ListEvents(uid);
  if (!events.ok()) return StatusResponse(events.status());
  nlohmann::json items = nlohmann::json::array();
  for (const store::Event& event : *events) {
    if (auto ns = params.find("ns"); ns != params.end() && event.object_namespace != ns->second) {
      continue;
    }
    items.push_back(EventJson(event));
  }
  return EventListResponse(std::move(items));
}

// POST /api/v1/deploys: the legacy request shape, applied as a ServiceDeploy.
Response HandleLegacyDeploy(ApplyService& apply, const std::function<std::string()>& make_suffix,
                            const ChangeHook& hook, const Request& request) {
  StatusOr<std::vector<api::Document>> parsed = api::ParseJson(request.body);
  if (!parsed.ok()) return BadRequestResponse(parsed.status().ToString());
  StatusOr<api::ServiceDeploy> deploy = ConvertLegacyDeploy(request.body, make_suffix);
  if (!deploy.ok()) return StatusResponse(deploy.status());
  ApplyRequest apply_request{.objects = {*deploy},
                             .op = store::Write::Op::kApply,
                             .user = request.user,
                             .role = request.role};
  StatusOr<std::vector<ApplyItem>> items = apply.Apply(apply_request);
  if (!items.ok())
    return StatusResponse(items.status(), {api::kKindServiceDeploy, deploy->metadata.name});
  const ApplyItem& item = items->front();
  Notify(hook, false, item);
  const auto& stored = std::get<api::ServiceDeploy>(item.object);
  return JsonResponse(item.action == "created" ? 201 : 200,
                      {{"deployId", stored.metadata.uid},
                       {"name", stored.metadata.name},
                       {"namespace", stored.metadata.namespace_},
                       {"status", LegacyStatusOf(stored)}});
}

// Returns NotFound for a ?target= that names no target of the deploy. The
// cause on the field `target` lists the deploy's target names, and the
// message leaves them out because clients print both.
Status UnknownTarget(const std::string& deploy, const std::string& target,
                     const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
  const std::string valid =
      names.empty() ? "the deploy has no targets yet" : "use one of the deploy's targets: " + list;
  Cause cause;
  cause.field = "target";
  cause.message = valid;
  return Status(Code::kNotFound,
                "deploy " + deploy + " has no target " + api::QuoteForMessage(target), {cause});
}

StatusOr<int64_t> IntParam(const Request& request, const char* name, int64_t fallback) {
  auto it = request.query.find(name);
  if (it == request.query.end() || it->second.empty()) return fallback;
  const std::string& text = it->second;
  if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(std::string("invalid ") + name + " \"" + text +
                                   "\": use a non-negative integer");
  }
  return std::stoll(text);
}

// Parses an RFC 3339 time such as 2024-05-01T12:00:00Z or
// 2024-05-01T14:00:00.5+02:00 into milliseconds since the Unix epoch.
StatusOr<int64_t> ParseRfc3339Ms(const std::string& text) {
  static const std::regex kTime(R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2}))"
                                R"((\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$)");
  std::smatch m;
  if (!std::regex_match(text, m, kTime)) {
    return Status::InvalidArgument("invalid sinceTime \"" + text.substr(0, 64) +
                                   "\": use RFC 3339, such as 2024-05-01T12:00:00Z");
  }
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60 || (m[9].matched && (std::stoi(m[10]) > 23 || std::stoi(m[11]) > 59))) {
    return Status::InvalidArgument("invalid sinceTime \"" + text +
                                   "\": a date or time field is out of range");
  }
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (m[7].matched) ms += std::stoi((m[7].str().substr(1) + "00").substr(0, 3));
  if (m[9].matched) {
    const int64_t offset_ms = (std::stoll(m[10]) * 60 + std::stoll(m[11])) * 60'000;
    ms -= m[9] == "+" ? offset_ms : -offset_ms;
  }
  return ms;
}

// Reads ?sinceSeconds=N (lines of the last N seconds) or ?sinceTime=RFC3339
// into the earliest line time in milliseconds; 0 when neither is given.
StatusOr<int64_t> SinceMsOf(const Request& request) {
  auto seconds = request.query.find("sinceSeconds");
  auto time = request.query.find("sinceTime");
  const bool has_seconds = seconds != request.query.end() && !seconds->second.empty();
  const bool has_time = time != request.query.end() && !time->second.empty();
  if (has_seconds && has_time) {
    return Status::InvalidArgument("give sinceSeconds or sinceTime, not both");
  }
  if (has_time) {
    StatusOr<int64_t> ms = ParseRfc3339Ms(time->second);
    if (!ms.ok()) return ms.status();
    return std::max<int64_t>(0, *ms);
  }
  if (!has_seconds) return 0;
  const std::string& text = seconds->second;
  if (text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(text) < 1) {
    return Status::InvalidArgument("invalid sinceSeconds \"" + text.substr(0, 64) +
                                   "\": use a positive whole number of seconds");
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return std::max<int64_t>(0, now_ms - std::stoll(text) * 1000);
}

// GET .../servicedeploys/{name}/probes: the newest probe results, oldest
// first, of every target or of ?target=NAME; ?limit=N (1..1000, default 50).
Response HandleProbes(store::Store& store, const Request& request, const PathParams& params) {
  StatusOr<api::Object> deploy =
      store.Get({api::kKindServiceDeploy, params.at("ns"), params.at("name")});
  if (!deploy.ok()) {
    return StatusResponse(deploy.status(), SubjectOf(api::kKindServiceDeploy, params));
  }
  const std::string uid = api::MetaOf(*deploy).uid;

  StatusOr<int64_t> limit = IntParam(request, "limit", 50);
  if (!limit.ok()) return BadRequestResponse(limit.status().message());
  if (*limit < 1 || *limit > 1000) {
    return BadRequestResponse("limit " + std::to_string(*limit) + " is outside 1..1000");
  }

  std::string target;
  if (auto it = request.query.find("target"); it != request.query.end()) target = it->second;
  StatusOr<std::vector<store::TargetRecord>> targets = store.runtime().ListTargets(uid);
  if (!targets.ok()) return StatusResponse(targets.status());
  std::vector<std::string> names;
  for (const auto& record : *targets) names.push_back(record.name);
  if (!target.empty() && std::find(names.begin(), names.end(), target) == names.end()) {
    return StatusResponse(UnknownTarget(params.at("name"), target, names),
                          SubjectOf(api::kKindServiceDeploy, params));
  }

  // Filtering by target happens here, so read enough for every target.
  // NOTE: 16 times the limit is an estimate; when other targets wrote far
  // more results, fewer than `limit` of this target come back.
  const int read = static_cast<int>(std::min<int64_t>(*limit * (target.empty() ? 1 : 16), 10000));
  StatusOr<std::vector<store::ProbeEventRecord>> recent =
      store.runtime().RecentProbeEvents(uid, read);
  if (!recent.ok()) return StatusResponse(recent.status());

  nlohmann::json items = nlohmann::json::array();
  for (auto it = recent->rbegin(); it != recent->rend(); ++it) {
    if (!target.empty() && it->target != target) continue;
    items.push_back({{"target", it->target},
                     {"passed", it->passed},
                     {"latencyMs", it->latency_ms},
                     {"message", it->message},
                     {"time", FormatTimeMs(it->time_ms)}});
  }
  if (items.size() > static_cast<size_t>(*limit)) {
    items.erase(items.begin(), items.end() - *limit);
  }
  return JsonResponse(
      200, {{"apiVersion", api::kGroupVersion}, {"kind", "ProbeResultList"}, {"items", items}});
}

// GET .../servicedeploys/{name}/log: lines with seq > afterSeq, by target
// rank and seq, at most one page; "more" is true when the page was cut. tail=N
// keeps each target's newest N lines.
Response HandleLog(store::Store& store, const Request& request, const PathParams& params) {
  StatusOr<api::Object> deploy =
      store.Get({api::kKindServiceDeploy, params.at("ns"), params.at("name")});
  if (!deploy.ok())
    return StatusResponse(deploy.status(), SubjectOf(api::kKindServiceDeploy, params));
  const std::string uid = api::MetaOf(*deploy).uid;
  StatusOr<int64_t> after = IntParam(request, "afterSeq", 0);
  StatusOr<int64_t> tail = IntParam(request, "tail", -1);
  if (!after.ok()) return BadRequestResponse(after.status().message());
  if (!tail.ok()) return BadRequestResponse(tail.status().message());
  StatusOr<int64_t> since = SinceMsOf(request);
  if (!since.ok()) return BadRequestResponse(since.status().message());
  std::string target;
  if (auto it = request.query.find("target"); it != request.query.end()) target = it->second;
  StatusOr<std::vector<store::TargetRecord>> targets = store.runtime().ListTargets(uid);
  if (!targets.ok()) return StatusResponse(targets.status());
  std::vector<std::string> names;
  const store::TargetRecord* chosen = nullptr;
  for (const auto& record : *targets) {
    names.push_back(record.name);
    if (record.name == target) chosen = &record;
  }
  if (!target.empty() && chosen == nullptr) {
    return StatusResponse(UnknownTarget(params.at("name"), target, names),
                          SubjectOf(api::kKindServiceDeploy, params));
  }
  int attempt = 0;
  if (auto it = request.query.find("previous"); it != request.query.end() && it->second == "true") {
    if (chosen == nullptr) return BadRequestResponse("previous=true needs target=NAME");
    if (chosen->latest_dispatch_id.empty())
      return JsonResponse(200, {{"items", nlohmann::json::array()}});
    StatusOr<store::DispatchRecord> latest =
        store.runtime().GetDispatch(chosen->latest_dispatch_id);
    if (!latest.ok()) return StatusResponse(latest.status());
    if (latest->attempt <= 1) {
      return StatusResponse(Status::NotFound("target " + target + " has no previous attempt"));
    }
    attempt = latest->attempt - 1;
  }
  if (*tail < -1) return BadRequestResponse("tail " + std::to_string(*tail) + " is below 0");
  // One line more than a page is read to learn whether more follow.
  constexpr int kPageLines = 5000;
  StatusOr<std::vector<store::LogLine>> lines =
      store.runtime().ReadLogsFiltered(uid,
                                       {.target = target,
                                        .after_seq = *after,
                                        .attempt = attempt,
                                        .since_ms = *since,
                                        .tail = *tail},
                                       kPageLines + 1);
  if (!lines.ok()) return StatusResponse(lines.status());
  const bool more = lines->size() > static_cast<size_t>(kPageLines);
  if (more) lines->pop_back();
  nlohmann::json items = nlohmann::json::array();
  for (const store::LogLine& line : *lines) {
    items.push_back({{"seq", line.seq},
                     {"attempt", line.attempt},
                     {"target", line.target},
                     {"source", line.source},
                     {"content", line.content},
                     {"time", FormatTimeMs(line.time_ms)}});
  }
  return JsonResponse(
      200, {{"kind", "LogLineList"}, {"items", items}, {"more", more}, {"targets", names}});
}

// POST .../servicedeploys/{name}/retry: gives FAILED and TIMEOUT targets a
// fresh retry budget, so the controller dispatches them again.
Response HandleRetry(store::Store& store, const ChangeHook& hook, const Request& request,
                     const PathParams& params) {
  StatusOr<api::Object> deploy =
      store.Get({api::kKindServiceDeploy, params.at("ns"), params.at("name")});
  if (!deploy.ok())
    return StatusResponse(deploy.status(), SubjectOf(api::kKindServiceDeploy, params));
  std::string only;
  if (auto it = request.query.find("target"); it != request.query.end()) only = it->second;
  const std::string uid = api::MetaOf(*deploy).uid;
  StatusOr<std::vector<store::TargetRecord>> targets = store.runtime().ListTargets(uid);
  if (!targets.ok()) return StatusResponse(targets.status());
  if (!only.empty()) {
    std::vector<std::string> names;
    for (const auto& target : *targets) names.push_back(target.name);
    if (std::find(names.begin(), names.end(), only) == names.end()) {
      return StatusResponse(UnknownTarget(params.at("name"), only, names),
                            SubjectOf(api::kKindServiceDeploy, params));
    }
  }
  nlohmann::json reset = nlohmann::json::array();
  for (const auto& target : *targets) {
    if (!only.empty() && target.name != only) continue;
    if (target.state != "FAILED" && target.state != "TIMEOUT" && target.attempts == 0) continue;
    store::TargetUpdate update;
    update.attempts = 0;
    if (target.state == "FAILED" || target.state == "TIMEOUT") {
      update.state = "PENDING";
      update.message = "retry requested by " + request.user;
    }
    Status updated =
        store.runtime().UpdateTarget(uid, target.name, target.lease_version, update, request.user);
    if (!updated.ok()) return StatusResponse(updated);
    reset.push_back(target.name);
  }
  if (hook) hook(api::kKindServiceDeploy, params.at("ns"), params.at("name"));
  return JsonResponse(200, {{"kind", "RetryResult"}, {"targets", reset}});
}

}  // namespace

ApiHandlers::ApiHandlers(store::Store& store, ApiHandlersOptions options)
    : store_(store), options_(std::move(options)) {}

Status ApiHandlers::Register(Router& router) {
  auto apply = std::make_shared<ApplyService>(store_, options_.max_script_bytes);
  const std::string p = kPrefix;
  Status status;
  // Every route rejects an invalid {ns} or {name} segment with 400 before
  // its handler runs, except POST and PUT of an object: those check the
  // segments as the object's metadata.namespace and metadata.name and
  // return 422 (see KindRoutes::MatchesPath).
  auto add_unchecked = [&](const char* method, const std::string& pattern, Handler handler,
                           AccessRule access) {
    if (status.ok()) status = router.Add(method, pattern, std::move(handler), access);
  };
  auto add = [&](const char* method, const std::string& pattern, Handler handler,
                 AccessRule access) {
    add_unchecked(method, pattern, WithCheckedPathSegments(std::move(handler)), access);
  };
  using Op = store::Write::Op;

  struct Collection {
    std::string kind;
    std::string collection;  // path of the collection
    AccessRule write;
  };
  const std::vector<Collection> collections = {
      {api::kKindHost, p + "/hosts", AccessRule::kAdmin},
      {api::kKindServiceTemplate, p + "/servicetemplates", AccessRule::kAdmin},
      {api::kKindServiceDeploy, p + "/namespaces/{ns}/servicedeploys", AccessRule::kEditor},
  };
  for (const Collection& c : collections) {
    auto routes = std::make_shared<KindRoutes>(store_, *apply, c.kind, options_.on_change);
    const std::string object = c.collection + "/{name}";
    add(
        "GET", c.collection,
        [routes](const Request& r, const PathParams& ps) { return routes->List(r, ps); },
        AccessRule::kViewer);
    add_unchecked(
        "POST", c.collection,
        [routes](const Request& r, const PathParams& ps) {
          return routes->Write(r, ps, Op::kCreate);
        },
        c.write);
    add(
        "GET", object,
        [routes](const Request&, const PathParams& ps) { return routes->Get(ps, false); },
        AccessRule::kViewer);
    add_unchecked(
        "PUT", object,
        [routes](const Request& r, const PathParams& ps) {
          return routes->Write(r, ps, Op::kUpdate);
        },
        c.write);
    add(
        "DELETE", object,
        [routes](const Request& r, const PathParams& ps) { return routes->Delete(r, ps); },
        c.write);
    if (c.kind != api::kKindServiceTemplate) {
      add(
          "GET", object + "/status",
          [routes](const Request&, const PathParams& ps) { return routes->Get(ps, true); },
          AccessRule::kViewer);
    }
  }
  const std::string deploy_path = p + "/namespaces/{ns}/servicedeploys/{name}";
  add(
      "GET", deploy_path + "/log",
      [&store = store_](const Request& r, const PathParams& ps) { return HandleLog(store, r, ps); },
      AccessRule::kViewer);
  add(
      "GET", deploy_path + "/probes",
      [&store = store_](const Request& r, const PathParams& ps) {
        return HandleProbes(store, r, ps);
      },
      AccessRule::kViewer);
  add(
      "POST", deploy_path + "/retry",
      [&store = store_, hook = options_.on_change](const Request& r, const PathParams& ps) {
        return HandleRetry(store, hook, r, ps);
      },
      AccessRule::kEditor);
  add(
      "POST", deploy_path + "/restart",
      [&store = store_, hook = options_.on_change](const Request& r, const PathParams& ps) {
        // A restart is a new generation with the same spec: it survives an
        // svcd restart, and waiting for observedGeneration waits for it.
        StatusOr<store::WriteResult> written = store.NewGeneration(
            {api::kKindServiceDeploy, ps.at("ns"), ps.at("name")}, r.user, "rollout restart");
        if (!written.ok()) return StatusResponse(written.status());
        const api::ObjectMeta& meta = api::MetaOf(written->object);
        const int64_t generation = meta.generation;
        store::Event event;
        event.object_uid = meta.uid;
        event.object_kind = api::kKindServiceDeploy;
        event.object_namespace = meta.namespace_;
        event.object_name = meta.name;
        event.type = "Normal";
        event.reason = "RolloutRestart";
        event.message = "restart requested by " + r.user + ": generation " +
                        std::to_string(generation) +
                        " replaces every target with freshly rendered scripts";
        if (StatusOr<store::Event> added = store.AppendEvent(event); !added.ok()) {
          spdlog::warn("deploy={}/{} recording the restart event failed: {}", meta.namespace_,
                       meta.name, added.status().message());
        }
        if (hook) hook(api::kKindServiceDeploy, ps.at("ns"), ps.at("name"));
        return JsonResponse(
            202, {{"kind", "RestartResult"}, {"restarting", true}, {"generation", generation}});
      },
      AccessRule::kEditor);
  auto all_deploys =
      std::make_shared<KindRoutes>(store_, *apply, api::kKindServiceDeploy, options_.on_change);
  add(
      "GET", p + "/servicedeploys",
      [all_deploys](const Request& r, const PathParams&) { return all_deploys->List(r, {}); },
      AccessRule::kViewer);

  add(
      "POST", p + "/apply",
      [apply, hook = options_.on_change](const Request& r, const PathParams&) {
        return HandleApply(*apply, hook, r);
      },
      AccessRule::kEditor);
  store::Store& store = store_;
  auto events = [&store](const Request& r, const PathParams& ps) {
    return HandleEvents(store, r, ps);
  };
  add("GET", p + "/events", events, AccessRule::kViewer);
  add("GET", p + "/namespaces/{ns}/events", events, AccessRule::kViewer);
  auto suffix = options_.make_suffix;
  add(
      "POST", "/api/v1/deploys",
      [apply, suffix, hook = options_.on_change](const Request& r, const PathParams&) {
        return HandleLegacyDeploy(*apply, suffix, hook, r);
      },
      AccessRule::kEditor);
  return status;
}

}  // namespace svcd::server
