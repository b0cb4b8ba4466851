#include "store/label_selector.h"

#include <algorithm>
#include <regex>

namespace svcd::store {
namespace {

constexpr char kForms[] =
    "use key=value, key!=value, key in (a,b), key notin (a,b), key or !key, separated by commas";

std::string Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// Label keys: an optional DNS-subdomain prefix and "/", then a name of up to
// 63 characters. Values: empty or up to 63 such characters.
bool IsValidKey(const std::string& key) {
  static const std::regex kKey(
      R"(([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)");
  return std::regex_match(key, kKey);
}

bool IsValidValue(const std::string& value) {
  static const std::regex kValue(R"(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)");
  return std::regex_match(value, kValue);
}

Status Invalid(const std::string& requirement, const std::string& problem) {
  return Status::InvalidArgument("invalid label selector requirement \"" + requirement +
                                 "\": " + problem + "; " + kForms);
}

// Splits at commas outside parentheses.
StatusOr<std::vector<std::string>> SplitRequirements(std::string_view text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth < 0 || depth > 1) return Invalid(std::string(text), "unbalanced parentheses");
    if (c == ',' && depth == 0) {
      parts.push_back(Trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (depth != 0) return Invalid(std::string(text), "unbalanced parentheses");
  parts.push_back(Trim(current));
  return parts;
}

StatusOr<LabelSelector::Requirement> ParseSetRequirement(const std::string& text,
                                                         const std::smatch& match) {
  LabelSelector::Requirement requirement;
  requirement.key = match[1];
  requirement.op =
      match[2] == "in" ? LabelSelector::Operator::kIn : LabelSelector::Operator::kNotIn;
  std::string list = match[3];
  if (Trim(list).empty()) return Invalid(text, "the value list is empty");
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    std::string value = Trim(list.substr(start, comma - start));
    if (!IsValidValue(value)) return Invalid(text, "invalid value \"" + value + "\"");
    requirement.values.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return requirement;
}

StatusOr<LabelSelector::Requirement> ParseRequirement(const std::string& text) {
  static const std::regex kSet(R"(([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\))");
  static const std::regex kCompare(R"(([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*))");
  static const std::regex kExists(R"((!?)\s*([^\s!=(),]+))");
  LabelSelector::Requirement requirement;
  std::smatch match;
  if (std::regex_match(text, match, kSet)) {
    StatusOr<LabelSelector::Requirement> parsed = ParseSetRequirement(text, match);
    if (!parsed.ok()) return parsed.status();
    requirement = std::move(*parsed);
  } else if (std::regex_match(text, match, kCompare)) {
    requirement.key = match[1];
    requirement.op =
        match[2] == "!=" ? LabelSelector::Operator::kNotEquals : LabelSelector::Operator::kEquals;
    requirement.values.push_back(match[3]);
    if (!IsValidValue(requirement.values[0])) {
      return Invalid(text, "invalid value \"" + requirement.values[0] + "\"");
    }
  } else if (std::regex_match(text, match, kExists)) {
    requirement.key = match[2];
    requirement.op =
        match[1] == "!" ? LabelSelector::Operator::kDoesNotExist : LabelSelector::Operator::kExists;
  } else {
    return Invalid(text, "cannot be read");
  }
  if (!IsValidKey(requirement.key)) {
    return Invalid(text, "invalid label key \"" + requirement.key + "\"");
  }
  return requirement;
}

bool Holds(const LabelSelector::Requirement& requirement,
           const std::map<std::string, std::string>& labels) {
  auto found = labels.find(requirement.key);
  bool set = found != labels.end();
  const auto& values = requirement.values;
  bool listed = set && std::find(values.begin(), values.end(), found->second) != values.end();
  switch (requirement.op) {
    case LabelSelector::Operator::kEquals:
    case LabelSelector::Operator::kIn:
      return listed;
    case LabelSelector::Operator::kNotEquals:
    case LabelSelector::Operator::kNotIn:
      return !listed;
    case LabelSelector::Operator::kExists:
      return set;
    case LabelSelector::Operator::kDoesNotExist:
      return !set;
  }
  return false;
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (Trim(text).empty()) return selector;
  StatusOr<std::vector<std::string>> parts = SplitRequirements(text);
  if (!parts.ok()) return parts.status();
  for (const std::string& part : *parts) {
    if (part.empty()) return Invalid(std::string(text), "empty requirement between commas");
    StatusOr<Requirement> requirement = ParseRequirement(part);
    if (!requirement.ok()) return requirement.status();
    selector.requirements_.push_back(std::move(*requirement));
  }
  return selector;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& requirement) { return Holds(requirement, labels); });
}

}  // namespace svcd::store
