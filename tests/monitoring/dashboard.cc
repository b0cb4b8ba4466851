#include "tests/monitoring/dashboard.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

namespace svcd::monitoring {
namespace {

// Values for Grafana's built-in variables. rate() needs at least two samples
// in its window, and one minute contains four or more at scrape intervals up
// to 15 s.
const std::map<std::string, std::string>& BuiltinVariables() {
  static const auto* values = new std::map<std::string, std::string>{
      {"__rate_interval", "1m"}, {"__interval", "1m"}, {"__range", "1h"}};
  return *values;
}

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Returns the value that selects every option of template variable
// `variable` in a query, or InvalidArgument when it cannot appear in a query.
StatusOr<std::string> AllValue(const nlohmann::json& variable) {
  const std::string name = variable.value("name", "");
  const std::string type = variable.value("type", "");
  if (type == "datasource") {
    return Status::InvalidArgument("variable $" + name +
                                   " selects a data source and cannot appear in a query");
  }
  if (type == "interval") return std::string("1m");
  if (type == "constant" && variable.contains("query") && variable["query"].is_string()) {
    return variable["query"].get<std::string>();
  }
  if (variable.contains("allValue") && variable["allValue"].is_string() &&
      !variable["allValue"].get<std::string>().empty()) {
    return variable["allValue"].get<std::string>();
  }
  return std::string(".*");
}

// Returns the template variable named `name`, or a null value.
nlohmann::json FindVariable(const nlohmann::json& dashboard, const std::string& name) {
  if (!dashboard.contains("templating") || !dashboard["templating"].is_object()) return nullptr;
  const nlohmann::json& list = dashboard["templating"].value("list", nlohmann::json::array());
  for (const nlohmann::json& variable : list) {
    if (variable.is_object() && variable.value("name", "") == name) return variable;
  }
  return nullptr;
}

// Returns the value of variable `name` in a query.
StatusOr<std::string> VariableValue(const std::string& name, const nlohmann::json& dashboard) {
  const auto builtin = BuiltinVariables().find(name);
  if (builtin != BuiltinVariables().end()) return builtin->second;
  const nlohmann::json variable = FindVariable(dashboard, name);
  if (variable.is_null()) {
    return Status::InvalidArgument("variable $" + name +
                                   " is not defined in templating.list; define it or remove it");
  }
  return AllValue(variable);
}

}  // namespace

std::string PanelQuery::Describe() const {
  return "panel " + std::to_string(panel_id) + " \"" + panel_title + "\" query " + ref_id + ": " +
         expr;
}

StatusOr<nlohmann::json> ReadDashboard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read dashboard " + path);
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json dashboard = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (dashboard.is_discarded()) {
    return Status::InvalidArgument(path + " is not valid JSON; check it with `jq . " + path + "`");
  }
  if (!dashboard.is_object()) {
    return Status::InvalidArgument(path + ": the top level must be a JSON object");
  }
  return dashboard;
}

std::vector<nlohmann::json> Panels(const nlohmann::json& dashboard) {
  std::vector<nlohmann::json> panels;
  if (!dashboard.contains("panels") || !dashboard["panels"].is_array()) return panels;
  for (const nlohmann::json& panel : dashboard["panels"]) {
    if (!panel.is_object()) continue;
    panels.push_back(panel);
    // A collapsed row keeps its panels inside itself.
    if (panel.contains("panels") && panel["panels"].is_array()) {
      for (const nlohmann::json& nested : panel["panels"]) {
        if (nested.is_object()) panels.push_back(nested);
      }
    }
  }
  return panels;
}

std::vector<PanelQuery> PanelQueries(const nlohmann::json& dashboard) {
  std::vector<PanelQuery> queries;
  for (const nlohmann::json& panel : Panels(dashboard)) {
    if (!panel.contains("targets") || !panel["targets"].is_array()) continue;
    for (const nlohmann::json& target : panel["targets"]) {
      if (!target.is_object() || !target.contains("expr") || !target["expr"].is_string()) continue;
      PanelQuery query;
      query.panel_id =
          panel.contains("id") && panel["id"].is_number_integer() ? panel["id"].get<int>() : 0;
      query.panel_title = panel.value("title", "");
      query.ref_id = target.value("refId", "");
      query.expr = target["expr"].get<std::string>();
      queries.push_back(std::move(query));
    }
  }
  return queries;
}

StatusOr<std::string> ExpandVariables(const std::string& expr, const nlohmann::json& dashboard) {
  std::string out;
  size_t i = 0;
  while (i < expr.size()) {
    if (expr[i] != '$') {
      out += expr[i++];
      continue;
    }

    // Find the name after "$" or inside "${name}" / "${name:format}".
    std::string name;
    size_t end = i + 1;
    if (end < expr.size() && expr[end] == '{') {
      const size_t close = expr.find('}', end);
      if (close == std::string::npos) {
        return Status::InvalidArgument("unclosed \"${\" at offset " + std::to_string(i));
      }
      name = expr.substr(end + 1, close - end - 1);
      name = name.substr(0, name.find(':'));
      end = close + 1;
    } else {
      while (end < expr.size() && IsNameChar(expr[end])) name += expr[end++];
    }
    // A "$" that starts no name, such as a regex anchor, stays as written.
    if (name.empty()) {
      out += expr[i++];
      continue;
    }

    StatusOr<std::string> value = VariableValue(name, dashboard);
    if (!value.ok()) return value.status();
    out += *value;
    i = end;
  }
  return out;
}

StatusOr<LabelValuesQuery> ParseLabelValues(const std::string& query) {
  constexpr std::string_view kPrefix = "label_values(";
  if (query.rfind(kPrefix, 0) != 0 || query.empty() || query.back() != ')') {
    return Status::InvalidArgument("\"" + query + "\" is not label_values(SELECTOR, LABEL)");
  }
  const std::string inside = query.substr(kPrefix.size(), query.size() - kPrefix.size() - 1);
  const size_t comma = inside.rfind(',');
  LabelValuesQuery parsed;
  if (comma != std::string::npos) {
    parsed.selector = inside.substr(0, comma);
    parsed.label = inside.substr(comma + 1);
  } else {
    parsed.label = inside;
  }
  auto trim = [](std::string& text) {
    const size_t first = text.find_first_not_of(" \t");
    const size_t last = text.find_last_not_of(" \t");
    text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  };
  trim(parsed.selector);
  trim(parsed.label);
  if (parsed.label.empty() || !std::all_of(parsed.label.begin(), parsed.label.end(), IsNameChar)) {
    return Status::InvalidArgument("\"" + query + "\" names no valid label after the selector");
  }
  return parsed;
}

}  // namespace svcd::monitoring
