#include "dispatch/run_dir.h"

#include <charconv>
#include <fstream>

namespace svcd::dispatch {
namespace {

constexpr size_t kMaxSegmentChars = 128;
constexpr size_t kMaxSmallFileBytes = 4096;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

Status ValidatePathSegment(std::string_view field, std::string_view value) {
  std::string problem;
  if (value.empty()) {
    problem = "is required";
  } else if (value.size() > kMaxSegmentChars) {
    problem = "has " + std::to_string(value.size()) + " characters; the maximum is " +
              std::to_string(kMaxSegmentChars);
  } else if (!IsAlnum(value.front())) {
    problem = "must start with a letter or digit";
  } else {
    for (char c : value) {
      if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') {
        problem = "may contain only letters, digits, '.', '_' and '-'";
        break;
      }
    }
  }
  if (problem.empty()) {
    return Status::Ok();
  }
  Cause cause;
  cause.field = std::string(field);
  cause.message = problem;
  return Status::InvalidArgument(std::string(field) + " " + problem, {cause});
}

std::filesystem::path TargetRunDir(const std::filesystem::path& data_dir,
                                   std::string_view deploy_uid, std::string_view target) {
  return data_dir / "run" / std::string(deploy_uid) / std::string(target);
}

std::filesystem::path AttemptDir(const std::filesystem::path& run_dir,
                                 std::string_view dispatch_id) {
  return run_dir / "attempts" / std::string(dispatch_id);
}

std::optional<std::string> ReadSmallFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string text(kMaxSmallFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  const size_t got = static_cast<size_t>(in.gcount());
  if (got > kMaxSmallFileBytes) {
    return std::nullopt;
  }
  text.resize(got);
  const size_t newline = text.find('\n');
  if (newline != std::string::npos) {
    text.resize(newline);
  }
  return text;
}

std::optional<int64_t> ReadIntFile(const std::filesystem::path& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text.has_value() || text->empty()) {
    return std::nullopt;
  }
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

}  // namespace svcd::dispatch
