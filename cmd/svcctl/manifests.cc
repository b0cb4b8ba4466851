#include "cmd/svcctl/manifests.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "api/codec.h"

namespace svcd::ctl {
namespace {

namespace fs = std::filesystem;

// The largest manifest file svcctl reads; the server's body limit is 1 MiB
// by default, so a bigger file could not be applied anyway.
constexpr std::uintmax_t kMaxManifestBytes = 4 << 20;

bool IsManifestFile(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

Status ListDirectory(const fs::path& dir, bool recursive, std::vector<std::string>& out) {
  std::error_code ec;
  std::vector<std::string> found;
  auto add = [&](const fs::directory_entry& entry) {
    if (entry.is_regular_file() && IsManifestFile(entry.path())) {
      found.push_back(entry.path().string());
    }
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      add(*it);
    }
  } else {
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      add(*it);
    }
  }
  if (ec) return Status::InvalidArgument("cannot read directory " + dir.string() + ": " + ec.message());
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
  return Status::Ok();
}

StatusOr<std::string> ReadSource(const std::string& path) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return text;
  }
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status::InvalidArgument("cannot read " + path + ": " + ec.message());
  if (size > kMaxManifestBytes) {
    return Status::InvalidArgument(path + " is " + std::to_string(size) +
                                   " bytes; manifests larger than 4 MiB are not read");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

StatusOr<std::vector<LoadedObject>> LoadManifests(const std::vector<std::string>& paths,
                                                  bool recursive) {
  std::vector<std::string> files;
  std::vector<Cause> problems;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (path != "-" && fs::is_directory(path, ec)) {
      Status listed = ListDirectory(path, recursive, files);
      if (!listed.ok()) problems.push_back({"", listed.message()});
    } else {
      files.push_back(path);
    }
  }
  if (files.empty() && problems.empty()) {
    return Status::InvalidArgument("no manifest files found in " + paths.front() +
                                   " (expected *.yaml, *.yml or *.json)");
  }

  std::vector<LoadedObject> objects;
  for (const std::string& file : files) {
    StatusOr<std::string> text = ReadSource(file);
    if (!text.ok()) {
      problems.push_back({"", text.status().message()});
      continue;
    }
    const std::string source = file == "-" ? "<stdin>" : file;
    auto decoded = api::DecodeObjects(*text, api::DetectFormat(*text), {.source_name = source});
    if (!decoded.ok()) {
      std::vector<Cause> causes = decoded.status().causes();
      if (causes.empty()) causes.push_back({"", decoded.status().message()});
      for (Cause& cause : causes) {
        cause.source = source;
        problems.push_back(std::move(cause));
      }
      continue;
    }
    for (api::Object& object : *decoded) objects.push_back({std::move(object), source});
  }
  if (!problems.empty()) {
    return Status::InvalidArgument("invalid manifests", std::move(problems));
  }
  return objects;
}

std::vector<std::string> FormatProblems(const Status& status) {
  std::vector<std::string> lines;
  for (const Cause& cause : status.causes()) lines.push_back(cause.ToString());
  if (lines.empty()) lines.push_back(status.message());
  return lines;
}

}  // namespace svcd::ctl
