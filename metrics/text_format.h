// The Prometheus text exposition format, version 0.0.4: one "# HELP" and one
// "# TYPE" line per family, then one line per sample, without timestamps.
// The tests check the output with `promtool check metrics` (Prometheus 2.42).

#ifndef SVCD_METRICS_TEXT_FORMAT_H_
#define SVCD_METRICS_TEXT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.h"

namespace svcd::metrics {

// The Content-Type of a response that carries RenderText's output.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Renders `families` in the order given, each family's series in the order
// given. A family without series is left out, because it has no sample to
// show. A histogram series gives one _bucket line per bound plus le="+Inf",
// then _sum and _count.
std::string RenderText(const std::vector<FamilySample>& families);

// Escapes a label value: backslash, double quote and line feed become \\,
// \" and \n.
std::string EscapeLabelValue(std::string_view value);

// Escapes HELP text: backslash and line feed become \\ and \n.
std::string EscapeHelp(std::string_view help);

// Formats a sample value: "NaN", "+Inf", "-Inf", or the shortest decimal
// text that reads back as the same double, such as "0.25", "3" or "1e+30".
std::string FormatValue(double value);

}  // namespace svcd::metrics

#endif  // SVCD_METRICS_TEXT_FORMAT_H_
