#include "tests/crds/manifest_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "tests/crds/crd_schema.h"

namespace svcd::crdtest {
namespace {

// Sets `value` to the rest of `line` and returns true when `line` starts
// with `prefix`.
bool TakeValue(const std::string& line, std::string_view prefix, std::string& value) {
  if (line.compare(0, prefix.size(), prefix) != 0) return false;
  value = line.substr(prefix.size());
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  return true;
}

Catcher ParseCatcher(const std::string& text, std::string& reason) {
  if (text == "loader") return Catcher::kLoader;
  if (text == "schema") return Catcher::kSchema;
  constexpr std::string_view kCodecOnly = "codec only (";
  if (text.compare(0, kCodecOnly.size(), kCodecOnly) == 0 && text.back() == ')') {
    reason = text.substr(kCodecOnly.size(), text.size() - kCodecOnly.size() - 1);
    return reason.empty() ? Catcher::kUnknown : Catcher::kCodecOnly;
  }
  return Catcher::kUnknown;
}

}  // namespace

std::vector<std::string> ListYamlFiles(std::string_view relative_dir) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath(relative_dir), error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TestNameForFile(const std::string& path) {
  std::string name = std::filesystem::path(path).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

BadManifest ReadBadManifest(const std::string& path) {
  BadManifest manifest;
  manifest.path = path;
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return manifest;
  manifest.text = *text;

  std::istringstream lines(manifest.text);
  std::string line;
  while (std::getline(lines, line) && line.rfind('#', 0) == 0) {
    std::string value;
    if (TakeValue(line, "# expect: ", value)) manifest.expect_field = value;
    if (TakeValue(line, "# expect-line: ", value)) manifest.expect_line = std::atoi(value.c_str());
    if (TakeValue(line, "# caught-by: ", value)) {
      manifest.catcher = ParseCatcher(value, manifest.reason);
    }
  }
  return manifest;
}

bool FieldMatches(std::string_view actual, std::string_view expected) {
  if (!actual.empty() && actual.front() == '[') {
    const size_t end = actual.find("] ");
    if (end != std::string_view::npos) actual.remove_prefix(end + 2);
  }
  if (actual.substr(0, expected.size()) != expected) return false;
  if (actual.size() == expected.size()) return true;
  const char next = actual[expected.size()];
  return next == '.' || next == '[';
}

}  // namespace svcd::crdtest
