#include "metrics/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/registry.h"
#include "tests/metrics/test_util.h"

namespace svcd::metrics {
namespace {

TEST(TextFormatTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabelValue("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), "two\\nlines");
  EXPECT_EQ(EscapeLabelValue("tab\tstays"), "tab\tstays");
  EXPECT_EQ(EscapeLabelValue("\\\"\n"), "\\\\\\\"\\n");
}

TEST(TextFormatTest, EscapesHelpButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a \"quoted\" word"), "a \"quoted\" word");
  EXPECT_EQ(EscapeHelp("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeHelp("line\nbreak"), "line\\nbreak");
}

TEST(TextFormatTest, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e30), "1e+30");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  // 2^53 + 2 is printed exactly, not rounded to six digits.
  EXPECT_EQ(FormatValue(9007199254740994.0), "9007199254740994");
}

TEST(TextFormatTest, RendersEscapedCounterLines) {
  Registry registry;
  auto family = registry.AddCounter(
      {"demo_events_total", "Events with a \\ and a\nnewline.", {"kind", "source"}});
  ASSERT_TRUE(family.ok()) << family.status().message();
  auto series = (*family)->Get({"a\"b", "c\\d\ne"});
  ASSERT_TRUE(series.ok()) << series.status().message();
  (*series)->Inc(2);

  EXPECT_EQ(registry.Render(),
            "# HELP demo_events_total Events with a \\\\ and a\\nnewline.\n"
            "# TYPE demo_events_total counter\n"
            "demo_events_total{kind=\"a\\\"b\",source=\"c\\\\d\\ne\"} 2\n");
}

TEST(TextFormatTest, RendersSeriesWithoutLabels) {
  Registry registry;
  auto gauge = registry.AddGauge({"demo_temperature_celsius", "A temperature.", {}});
  ASSERT_TRUE(gauge.ok());
  auto series = (*gauge)->Get({});
  ASSERT_TRUE(series.ok());
  (*series)->Set(-3.5);

  EXPECT_EQ(registry.Render(),
            "# HELP demo_temperature_celsius A temperature.\n"
            "# TYPE demo_temperature_celsius gauge\n"
            "demo_temperature_celsius -3.5\n");
}

TEST(TextFormatTest, RendersHistogramLines) {
  Registry registry;
  auto family = registry.AddHistogram({"demo_latency_seconds", "Latency.", {"path"}}, {0.1, 1});
  ASSERT_TRUE(family.ok()) << family.status().message();
  auto series = (*family)->Get({"/x"});
  ASSERT_TRUE(series.ok());
  for (double value : {0.05, 0.1, 0.5, 3.0}) (*series)->Observe(value);

  // 0.1 lands in the 0.1 bucket because a bucket counts values <= its bound.
  EXPECT_EQ(registry.Render(),
            "# HELP demo_latency_seconds Latency.\n"
            "# TYPE demo_latency_seconds histogram\n"
            "demo_latency_seconds_bucket{path=\"/x\",le=\"0.1\"} 2\n"
            "demo_latency_seconds_bucket{path=\"/x\",le=\"1\"} 3\n"
            "demo_latency_seconds_bucket{path=\"/x\",le=\"+Inf\"} 4\n"
            "demo_latency_seconds_sum{path=\"/x\"} 3.65\n"
            "demo_latency_seconds_count{path=\"/x\"} 4\n");
}

TEST(TextFormatTest, RendersHistogramWithoutLabels) {
  Registry registry;
  auto family = registry.AddHistogram({"demo_size_bytes", "Sizes.", {}}, {10});
  ASSERT_TRUE(family.ok());
  ASSERT_TRUE((*family)->Get({}).ok());

  EXPECT_EQ(registry.Render(),
            "# HELP demo_size_bytes Sizes.\n"
            "# TYPE demo_size_bytes histogram\n"
            "demo_size_bytes_bucket{le=\"10\"} 0\n"
            "demo_size_bytes_bucket{le=\"+Inf\"} 0\n"
            "demo_size_bytes_sum 0\n"
            "demo_size_bytes_count 0\n");
}

TEST(TextFormatTest, LeavesOutFamiliesWithoutSeries) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge({"demo_empty", "No series yet.", {"x"}}).ok());

  EXPECT_EQ(registry.Render(), "");
}

TEST(TextFormatTest, OrdersFamiliesAndSeries) {
  Registry registry;
  auto zeta = registry.AddGauge({"zeta_things", "Zeta.", {"name"}});
  auto alpha = registry.AddGauge({"alpha_things", "Alpha.", {"name"}});
  ASSERT_TRUE(zeta.ok());
  ASSERT_TRUE(alpha.ok());
  for (const char* name : {"c", "a", "b"}) {
    ASSERT_TRUE((*zeta)->Get({name}).ok());
    ASSERT_TRUE((*alpha)->Get({name}).ok());
  }
  const std::string first = registry.Render();

  EXPECT_EQ(first,
            "# HELP alpha_things Alpha.\n# TYPE alpha_things gauge\n"
            "alpha_things{name=\"a\"} 0\nalpha_things{name=\"b\"} 0\nalpha_things{name=\"c\"} 0\n"
            "# HELP zeta_things Zeta.\n# TYPE zeta_things gauge\n"
            "zeta_things{name=\"a\"} 0\nzeta_things{name=\"b\"} 0\nzeta_things{name=\"c\"} 0\n");
  EXPECT_EQ(registry.Render(), first);
}

TEST(TextFormatTest, PromtoolAcceptsHostileLabelValues) {
  Registry registry;
  auto family = registry.AddGauge({"demo_hostile", "Label values with \"quotes\" and \\.", {"v"}});
  ASSERT_TRUE(family.ok());
  for (const char* value : {"\"", "\\", "\n", "\\n", "}", "a=\"b\",c=\"d", "", "ü ✓"}) {
    ASSERT_TRUE((*family)->Get({value}).ok()) << value;
  }
  const std::string text = registry.Render();

  testing::CommandResult check = testing::PromtoolCheck(text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
  EXPECT_EQ(check.output, "") << text;
}

}  // namespace
}  // namespace svcd::metrics
