// svcctl archive: create, list and download log archives, checking each
// download against the MD5 that svcd recorded.

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cmd/svcctl/commands.h"
#include "cmd/svcctl/resources.h"

namespace svcd::ctl {
namespace {

struct ArchiveFlags {
  std::string object;  // sd/NAME
  std::string uid;     // --uid
  std::string id;      // --id
  std::string output;  // -o; "-" is stdout
  std::string reason;  // --reason
  bool list = false;
};

std::string Md5Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_md5(), nullptr);
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

int PrintArchives(const nlohmann::json& list) {
  std::vector<std::vector<std::string>> rows = {{"ID", "CREATED", "BYTES", "MD5", "REASON"}};
  for (const auto& item : list["items"]) {
    rows.push_back({item.value("id", ""), item.value("created", ""),
                    std::to_string(item.value("bytes", int64_t{0})), item.value("md5", ""),
                    item.value("reason", "")});
  }
  if (rows.size() == 1) {
    std::cerr << "no archives found\n";
    return 0;
  }
  PrintTable(rows);
  return 0;
}

// Writes `bytes` to `path` through a temporary file in the same directory,
// so an interrupted write never leaves a partial file under that name.
Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string temp = path + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      return Status::Internal("cannot write " + temp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    return Status::Internal("cannot rename " + temp + " to " + path + ": " + ec.message());
  }
  return Status::Ok();
}

// Downloads the archive `record` describes, checks it against the recorded
// MD5 and saves it. Returns the exit status.
int Download(const ApiClient& client, const nlohmann::json& record, const std::string& output) {
  const std::string id = record.value("id", "");
  const std::string recorded = record.value("md5", "");
  StatusOr<HttpReply> reply = client.Send("GET", record.value("downloadPath", ""));
  if (!reply.ok()) return PrintError(reply.status());
  if (reply->status != 200) return PrintError(ReplyToStatus(*reply));
  const std::string actual = Md5Hex(reply->body);
  if (actual != recorded) {
    return PrintError(Status::Internal("MD5 mismatch for archive " + id + ": the download has " +
                                       actual + " but svcd recorded " + recorded +
                                       "; nothing was saved, download it again"));
  }
  if (output == "-") {
    std::cout.write(reply->body.data(), static_cast<std::streamsize>(reply->body.size()));
    std::cout.flush();
    std::cerr << "archive " << id << ": " << reply->body.size() << " bytes, MD5 " << actual
              << " verified\n";
    return 0;
  }
  const std::string path = output.empty() ? id + ".tar.gz" : output;
  if (Status written = WriteFileAtomically(path, reply->body); !written.ok()) {
    return PrintError(written);
  }
  std::cout << "archive " << id << " saved to " << path << " (" << reply->body.size()
            << " bytes, MD5 " << actual << " verified)\n";
  return 0;
}

int RunArchive(const GlobalOptions& global, const ArchiveFlags& flags) {
  if (flags.object.empty() == flags.uid.empty()) {
    return PrintError(Status::InvalidArgument(
        "archive needs either sd/NAME or --uid UID: sd/NAME archives a live deploy now, --uid "
        "downloads or lists the archives of any deploy, also a deleted one"));
  }
  const ApiClient client = MakeClient(global);
  if (!flags.uid.empty()) {
    StatusOr<nlohmann::json> list =
        CallJson(client, "GET", "/apis/svcd.io/v1alpha1/archives?uid=" + UrlEncode(flags.uid));
    if (!list.ok()) return PrintError(list.status());
    if (flags.list) return PrintArchives(*list);
    for (const auto& item : (*list)["items"]) {
      if (flags.id.empty() || item.value("id", "") == flags.id) {
        return Download(client, item, flags.output);
      }
    }
    return PrintError(Status::NotFound(flags.id.empty()
                                           ? "deploy " + flags.uid +
                                                 " has no archives; create one with svcctl "
                                                 "archive sd/NAME while the deploy exists"
                                           : "deploy " + flags.uid + " has no archive " + flags.id +
                                                 "; list them with --list"));
  }

  StatusOr<std::pair<KindInfo, std::string>> target = ResolveKindSlashName(flags.object);
  if (!target.ok()) return PrintError(target.status());
  if (target->first.kind != api::kKindServiceDeploy || target->second.empty()) {
    return PrintError(Status::InvalidArgument("archive needs sd/NAME, not " + flags.object));
  }
  if (!flags.id.empty()) {
    return PrintError(Status::InvalidArgument("--id selects an archive with --uid UID"));
  }
  const std::string path = ObjectPath(target->first, EffectiveNamespace(global), target->second);
  if (flags.list) {
    StatusOr<nlohmann::json> list = CallJson(client, "GET", path + "/archives");
    if (!list.ok()) return PrintError(list.status());
    return PrintArchives(*list);
  }
  const std::string query = flags.reason.empty() ? "" : "?reason=" + UrlEncode(flags.reason);
  StatusOr<nlohmann::json> created = CallJson(client, "POST", path + "/archive" + query);
  if (!created.ok()) return PrintError(created.status());
  return Download(client, *created, flags.output);
}

}  // namespace

void AddArchiveCommand(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  auto flags = std::make_shared<ArchiveFlags>();
  CLI::App* archive = app.add_subcommand(
      "archive",
      "Archive a deploy's logs, scripts and env files now and download the .tar.gz, or list "
      "and download the archives of a deploy by uid; every download is checked against the "
      "MD5 svcd recorded");
  archive->add_option("object", flags->object, "sd/NAME: archive this live deploy now");
  archive->add_option("--uid", flags->uid,
                      "The deploy's metadata.uid: use its archives, also after deletion");
  archive->add_option("--id", flags->id, "With --uid: download this archive, not the newest");
  archive->add_flag("--list", flags->list, "List the archives instead of downloading one");
  archive->add_option("-o,--output", flags->output,
                      "File to save the archive to; - for stdout (default: ID.tar.gz)");
  archive->add_option("--reason", flags->reason, "Why the archive is made, at most 200 bytes");
  registry.Add(archive, [&global, flags] { return RunArchive(global, *flags); });
}

}  // namespace svcd::ctl
