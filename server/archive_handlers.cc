#include "server/archive_handlers.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "api/codec.h"
#include "api/types.h"
#include "archive/tar_gz_writer.h"
#include "server/path_check_handler.h"
#include "server/status_response.h"

namespace svcd::server {
namespace {

constexpr char kPrefix[] = "/apis/svcd.io/v1alpha1";
// A reason given with ?reason= is stored beside svcd's own text, within the
// store's 500-byte limit.
constexpr size_t kMaxRequestReasonBytes = 200;

Response JsonResponse(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

std::string FormatTimeMs(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

nlohmann::json ArchiveJson(const store::ArchiveRecord& archive) {
  nlohmann::json targets = nlohmann::json::array();
  for (const store::ArchiveCoverage& coverage : archive.targets) {
    targets.push_back({{"name", coverage.target},
                       {"firstSeq", coverage.first_seq},
                       {"lastSeq", coverage.last_seq},
                       {"lines", coverage.lines}});
  }
  return {{"apiVersion", api::kGroupVersion},
          {"kind", "LogArchive"},
          {"id", archive.archive_id},
          {"deployUid", archive.deploy_uid},
          {"bytes", archive.bytes},
          {"md5", archive.md5},
          {"created", FormatTimeMs(archive.created_ms)},
          {"reason", archive.reason},
          {"downloadPath", std::string(kPrefix) + "/archives/" + archive.archive_id},
          {"targets", targets}};
}

Response ListResponse(const std::vector<store::ArchiveRecord>& archives) {
  nlohmann::json items = nlohmann::json::array();
  for (const store::ArchiveRecord& archive : archives) items.push_back(ArchiveJson(archive));
  return JsonResponse(
      200, {{"apiVersion", api::kGroupVersion}, {"kind", "LogArchiveList"}, {"items", items}});
}

bool IsUuid(const std::string& text) {
  static const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  return std::regex_match(text, kUuid);
}

// Returns the base64 form of the 16 bytes that 32 hex digits spell.
std::string HexMd5ToBase64(const std::string& hex) {
  unsigned char raw[16];
  for (size_t i = 0; i < 16; ++i)
    raw[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  unsigned char encoded[32] = {};
  const int length = EVP_EncodeBlock(encoded, raw, sizeof raw);
  return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(length));
}

class ArchiveRoutes {
 public:
  ArchiveRoutes(store::Store& store, std::shared_ptr<archive::Archiver> archiver)
      : store_(store), archiver_(std::move(archiver)) {}

  // POST .../servicedeploys/{name}/archive: packs an archive now.
  Response Create(const Request& request, const PathParams& params) const {
    std::string reason = "requested by " + request.user;
    if (auto it = request.query.find("reason"); it != request.query.end()) {
      if (it->second.empty() || it->second.size() > kMaxRequestReasonBytes ||
          it->second.find_first_of(std::string("\0\n\r", 3)) != std::string::npos) {
        return BadRequestResponse("invalid reason: use 1 to 200 bytes of text on one line");
      }
      reason = it->second + " (requested by " + request.user + ")";
    }
    StatusOr<std::string> uid = LiveUid(params);
    if (!uid.ok()) return StatusResponse(uid.status(), Subject(params));
    StatusOr<store::ArchiveRecord> archive = archiver_->ArchiveDeploy(*uid, reason);
    if (!archive.ok()) {
      spdlog::error("archive of deploy={}/{} failed: {}", params.at("ns"), params.at("name"),
                    archive.status().ToString());
      return StatusResponse(archive.status(), Subject(params));
    }
    return JsonResponse(201, ArchiveJson(*archive));
  }

  // GET .../servicedeploys/{name}/archives.
  Response ListForDeploy(const PathParams& params) const {
    StatusOr<std::string> uid = LiveUid(params);
    if (!uid.ok()) return StatusResponse(uid.status(), Subject(params));
    StatusOr<std::vector<store::ArchiveRecord>> archives = store_.runtime().ListArchives(*uid);
    if (!archives.ok()) return StatusResponse(archives.status());
    return ListResponse(*archives);
  }

  // GET /archives?uid=UID.
  Response ListByUid(const Request& request) const {
    auto it = request.query.find("uid");
    if (it == request.query.end() || it->second.empty()) {
      return BadRequestResponse("missing uid: use /archives?uid=UID with a deploy's metadata.uid");
    }
    const std::string& uid = it->second;
    if (!IsUuid(uid)) {
      return BadRequestResponse("invalid uid \"" + uid.substr(0, 64) +
                                "\": use a deploy's metadata.uid, a lowercase UUID");
    }
    StatusOr<store::DeployHistory> history = store_.runtime().ReadDeployHistory(uid);
    if (!history.ok()) return StatusResponse(history.status());
    StatusOr<std::vector<store::ArchiveRecord>> archives = store_.runtime().ListArchives(uid);
    if (!archives.ok()) return StatusResponse(archives.status());
    return ListResponse(*archives);
  }

  // GET /archives/{id}: the file, checked against its recorded MD5.
  Response Download(const PathParams& params) const {
    const std::string& id = params.at("id");
    if (!IsUuid(id)) {
      return BadRequestResponse("invalid archive id \"" + id.substr(0, 64) +
                                "\": use an id from the archive list, a lowercase UUID");
    }
    StatusOr<store::ArchiveRecord> archive = store_.runtime().GetArchive(id);
    if (!archive.ok()) return StatusResponse(archive.status());
    StatusOr<std::string> path = archiver_->LocalPath(*archive);
    if (!path.ok()) return StatusResponse(path.status());

    // A damaged file is an error, never a silent download. The file is read
    // twice, to check it and to send it, so memory use does not grow with its size.
    StatusOr<std::string> md5 = archive::Md5HexOfFile(*path);
    if (md5.status().code() == Code::kNotFound) {
      spdlog::error("archive={} file={} is missing: {}", id, *path, md5.status().ToString());
      return StatusResponse(
          Status::NotFound("archive " + id + " is recorded but its file " + *path + " is missing"));
    }
    if (!md5.ok()) return StatusResponse(md5.status());
    Response response;
    response.body_file = *path;
    if (*md5 != archive->md5) {
      spdlog::error("archive={} file={} has MD5 {} but {} was recorded", id, *path, *md5,
                    archive->md5);
      return StatusResponse(Status::Internal("archive " + id + " is damaged: its file has MD5 " +
                                             *md5 + " but " + archive->md5 + " was recorded"));
    }

    response.content_type = "application/gzip";
    response.headers["Content-MD5"] = HexMd5ToBase64(archive->md5);
    response.headers["X-Svcd-MD5"] = archive->md5;
    response.headers["Content-Disposition"] = "attachment; filename=\"" + id + ".tar.gz\"";
    return response;
  }

 private:
  static StatusSubject Subject(const PathParams& params) {
    return {api::kKindServiceDeploy, params.at("name")};
  }

  StatusOr<std::string> LiveUid(const PathParams& params) const {
    StatusOr<api::Object> deploy =
        store_.Get({api::kKindServiceDeploy, params.at("ns"), params.at("name")});
    if (!deploy.ok()) return deploy.status();
    return api::MetaOf(*deploy).uid;
  }

  store::Store& store_;
  std::shared_ptr<archive::Archiver> archiver_;
};

}  // namespace

Status RegisterArchiveRoutes(Router& router, store::Store& store,
                             std::shared_ptr<archive::Archiver> archiver) {
  auto routes = std::make_shared<ArchiveRoutes>(store, std::move(archiver));
  const std::string p = kPrefix;
  const std::string deploy = p + "/namespaces/{ns}/servicedeploys/{name}";
  // The deploy routes reject an invalid {ns} or {name} segment with 400.
  Handler create = WithCheckedPathSegments(
      [routes](const Request& r, const PathParams& ps) { return routes->Create(r, ps); });
  Status status = router.Add("POST", deploy + "/archive", create, AccessRule::kEditor);
  if (status.ok()) status = router.Add("POST", deploy + "/archives", create, AccessRule::kEditor);
  if (status.ok()) {
    status = router.Add("GET", deploy + "/archives",
                        WithCheckedPathSegments([routes](const Request&, const PathParams& ps) {
                          return routes->ListForDeploy(ps);
                        }),
                        AccessRule::kViewer);
  }
  if (status.ok()) {
    status = router.Add(
        "GET", p + "/archives",
        [routes](const Request& r, const PathParams&) { return routes->ListByUid(r); },
        AccessRule::kViewer);
  }
  if (status.ok()) {
    status = router.Add(
        "GET", p + "/archives/{id}",
        [routes](const Request&, const PathParams& ps) { return routes->Download(ps); },
        AccessRule::kViewer);
  }
  return status;
}

Status RegisterArchiveRoutes(Router& router, store::Store& store,
                             const ArchiveRoutesOptions& options) {
  const std::string& data_dir = options.archiver.data_dir;
  if (data_dir.empty() || data_dir.front() != '/') {
    return Status::InvalidArgument("archive routes need an absolute data dir, not \"" + data_dir +
                                   "\"");
  }
  auto archiver = std::make_shared<archive::Archiver>(store, options.archiver);
  if (options.retention_interval.count() > 0) {
    archiver->StartRetentionSweep(options.retention_interval);
  }
  return RegisterArchiveRoutes(router, store, std::move(archiver));
}

}  // namespace svcd::server
