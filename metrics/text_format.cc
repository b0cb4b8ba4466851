#include "metrics/text_format.h"

#include <charconv>
#include <cmath>

namespace svcd::metrics {
namespace {

std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Appends `{a="x",b="y"}`, adding `le` last when `le` is not empty. Appends
// nothing for a series without labels.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view le) {
  if (names.empty() && le.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out.push_back('"');
  }
  if (!le.empty()) {
    if (!names.empty()) out.push_back(',');
    out += "le=\"";
    out += le;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendSample(std::string& out, std::string_view name, const FamilySample& family,
                  const SeriesSample& series, std::string_view le, std::string_view value) {
  out += name;
  AppendLabels(out, family.label_names, series.label_values, le);
  out.push_back(' ');
  out += value;
  out.push_back('\n');
}

void AppendHistogram(std::string& out, const FamilySample& family, const SeriesSample& series) {
  const std::string bucket = family.name + "_bucket";
  const HistogramValue& value = series.histogram;
  for (size_t i = 0; i < family.bounds.size(); ++i) {
    AppendSample(out, bucket, family, series, FormatValue(family.bounds[i]),
                 std::to_string(value.cumulative_counts[i]));
  }
  AppendSample(out, bucket, family, series, "+Inf", std::to_string(value.count));
  AppendSample(out, family.name + "_sum", family, series, "", FormatValue(value.sum));
  AppendSample(out, family.name + "_count", family, series, "", std::to_string(value.count));
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string EscapeHelp(std::string_view help) { return Escape(help, false); }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

std::string RenderText(const std::vector<FamilySample>& families) {
  std::string out;
  for (const FamilySample& family : families) {
    if (family.series.empty()) continue;
    out += "# HELP " + family.name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + family.name + " " + MetricTypeName(family.type) + "\n";
    for (const SeriesSample& series : family.series) {
      if (family.type == MetricType::kHistogram) {
        AppendHistogram(out, family, series);
      } else {
        AppendSample(out, family.name, family, series, "", FormatValue(series.value));
      }
    }
  }
  return out;
}

}  // namespace svcd::metrics
