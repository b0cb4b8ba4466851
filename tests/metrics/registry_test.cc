#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "tests/metrics/test_util.h"

namespace svcd::metrics {
namespace {

using testing::SampleValue;

TEST(RegistryTest, RejectsInvalidMetricNames) {
  Registry registry;
  for (const char* name :
       {"", "1starts_with_digit", "has-dash", "has space", "has:colon", "caf\xc3\xa9", "dot.ted"}) {
    auto added = registry.AddGauge({name, "Help.", {}});
    ASSERT_FALSE(added.ok()) << name;
    EXPECT_EQ(added.status().code(), Code::kInvalidArgument) << name;
    EXPECT_NE(added.status().message().find("metric name"), std::string::npos)
        << added.status().message();
  }
}

TEST(RegistryTest, AcceptsValidMetricNames) {
  Registry registry;
  for (const char* name : {"a", "_leading_underscore", "svcd_workqueue_depth", "CamelOk9"}) {
    EXPECT_TRUE(registry.AddGauge({name, "Help.", {}}).ok()) << name;
  }
}

TEST(RegistryTest, EnforcesTypeSuffixes) {
  Registry registry;
  auto counter = registry.AddCounter({"requests", "Help.", {}});
  ASSERT_FALSE(counter.ok());
  EXPECT_NE(counter.status().message().find("_total"), std::string::npos);

  EXPECT_FALSE(registry.AddGauge({"requests_total", "Help.", {}}).ok());
  EXPECT_FALSE(registry.AddHistogram({"latency_total", "Help.", {}}, {1}).ok());
  for (const char* name : {"x_bucket", "x_sum", "x_count"}) {
    EXPECT_FALSE(registry.AddGauge({name, "Help.", {}}).ok()) << name;
    EXPECT_FALSE(registry.AddHistogram({name, "Help.", {}}, {1}).ok()) << name;
  }
  EXPECT_TRUE(registry.AddCounter({"requests_total", "Help.", {}}).ok());
}

TEST(RegistryTest, RejectsInvalidLabelNames) {
  Registry registry;
  for (const char* label : {"", "__reserved", "1digit", "has-dash", "has space", "a:b"}) {
    auto added = registry.AddGauge({"demo", "Help.", {label}});
    ASSERT_FALSE(added.ok()) << label;
    EXPECT_EQ(added.status().code(), Code::kInvalidArgument);
    EXPECT_NE(added.status().message().find("label name"), std::string::npos)
        << added.status().message();
  }
  auto twice = registry.AddGauge({"demo", "Help.", {"a", "a"}});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("given twice"), std::string::npos);

  auto le = registry.AddHistogram({"demo_seconds", "Help.", {"le"}}, {1});
  ASSERT_FALSE(le.ok());
  EXPECT_NE(le.status().message().find("\"le\""), std::string::npos);
  EXPECT_TRUE(registry.AddGauge({"demo", "Help.", {"le", "_x"}}).ok());
}

TEST(RegistryTest, RejectsDuplicateNamesAndBadHelp) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge({"demo", "Help.", {}}).ok());
  auto again = registry.AddCounter({"demo_total", "Help.", {}});
  EXPECT_TRUE(again.ok());
  auto duplicate = registry.AddGauge({"demo", "Other help.", {"x"}});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.status().message().find("already registered"), std::string::npos);

  EXPECT_FALSE(registry.AddGauge({"no_help", "", {}}).ok());
  EXPECT_FALSE(registry.AddGauge({"bad_help", "\xff\xfe", {}}).ok());
}

TEST(RegistryTest, ChecksHistogramBounds) {
  Registry registry;
  EXPECT_FALSE(registry.AddHistogram({"h1_seconds", "Help.", {}}, {}).ok());
  EXPECT_FALSE(registry.AddHistogram({"h2_seconds", "Help.", {}}, {1, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram({"h3_seconds", "Help.", {}}, {2, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram({"h4_seconds", "Help.", {}}, {NAN}).ok());
  EXPECT_FALSE(registry.AddHistogram({"h5_seconds", "Help.", {}}, {-INFINITY, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram({"h6_seconds", "Help.", {}}, {INFINITY}).ok());

  // A trailing +Inf is dropped, because the +Inf bucket is always rendered.
  auto family = registry.AddHistogram({"h7_seconds", "Help.", {}}, {1, INFINITY});
  ASSERT_TRUE(family.ok()) << family.status().message();
  ASSERT_TRUE((*family)->Get({}).ok());
  EXPECT_EQ(testing::LinesStartingWith(registry.Render(), "h7_seconds_bucket").size(), 2u);
}

TEST(RegistryTest, RejectsWrongLabelValueCount) {
  Registry registry;
  auto family = registry.AddCounter({"demo_total", "Help.", {"a", "b"}});
  ASSERT_TRUE(family.ok());

  auto short_list = (*family)->Get({"x"});
  ASSERT_FALSE(short_list.ok());
  EXPECT_NE(short_list.status().message().find("1 label values for 2 label names"),
            std::string::npos)
      << short_list.status().message();
  EXPECT_FALSE((*family)->Get({"x", "y", "z"}).ok());
  EXPECT_EQ((*family)->size(), 0u);
}

TEST(RegistryTest, RejectsLabelValuesThatAreNotUtf8) {
  Registry registry;
  auto family = registry.AddGauge({"demo", "Help.", {"name"}});
  ASSERT_TRUE(family.ok());
  for (const char* value : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    auto series = (*family)->Get({value});
    ASSERT_FALSE(series.ok());
    EXPECT_NE(series.status().message().find("not valid UTF-8"), std::string::npos)
        << series.status().message();
  }
  EXPECT_EQ((*family)->size(), 0u);
  EXPECT_TRUE((*family)->Get({"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80"}).ok());
}

TEST(RegistryTest, ReturnsTheSameSeriesForTheSameLabels) {
  Registry registry;
  auto family = registry.AddCounter({"demo_total", "Help.", {"a"}});
  ASSERT_TRUE(family.ok());
  auto first = (*family)->Get({"x"});
  auto second = (*family)->Get({"x"});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  (*first)->Inc();
  (*second)->Inc(2.5);

  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(SampleValue(registry.Render(), "demo_total{a=\"x\"}"), 3.5);
}

TEST(RegistryTest, CounterIgnoresNegativeAndNan) {
  Counter counter;
  counter.Inc(2);
  counter.Inc(-1);
  counter.Inc(NAN);
  counter.Inc(0);

  EXPECT_EQ(counter.Value(), 2);
}

TEST(RegistryTest, GaugeMovesBothWays) {
  Gauge gauge;
  gauge.Set(5);
  gauge.Add(-7);

  EXPECT_EQ(gauge.Value(), -2);
}

TEST(RegistryTest, HistogramCountsBoundsInclusively) {
  auto bounds = std::make_shared<const std::vector<double>>(std::vector<double>{1, 2});
  Histogram histogram(bounds);
  for (double value : {-5.0, 1.0, 1.5, 2.0, 2.0001, std::nan("")}) histogram.Observe(value);
  HistogramValue value = histogram.Value();

  ASSERT_EQ(value.cumulative_counts.size(), 3u);
  EXPECT_EQ(value.cumulative_counts[0], 2u);
  EXPECT_EQ(value.cumulative_counts[1], 4u);
  EXPECT_EQ(value.cumulative_counts[2], 5u);
  EXPECT_EQ(value.count, 5u);
  EXPECT_DOUBLE_EQ(value.sum, 1.5001);
}

TEST(RegistryTest, DeclaresEveryCombination) {
  Registry registry;
  auto family = registry.AddCounter({"demo_total", "Help.", {"a", "b"}});
  ASSERT_TRUE(family.ok());
  ASSERT_TRUE((*family)->DeclareCombinations({{"x", "y"}, {"1", "2", "3"}}).ok());

  EXPECT_EQ((*family)->size(), 6u);
  const std::string text = registry.Render();
  for (const char* a : {"x", "y"}) {
    for (const char* b : {"1", "2", "3"}) {
      std::string series = std::string("demo_total{a=\"") + a + "\",b=\"" + b + "\"}";
      EXPECT_EQ(SampleValue(text, series), 0) << series;
    }
  }
  EXPECT_FALSE((*family)->DeclareCombinations({{"x"}}).ok());
}

TEST(RegistryTest, RemovesOneSeries) {
  Registry registry;
  auto family = registry.AddGauge({"demo", "Help.", {"a"}});
  ASSERT_TRUE(family.ok());
  auto remaining = (*family)->Get({"keep"});
  auto removed = (*family)->Get({"drop"});
  ASSERT_TRUE(remaining.ok());
  ASSERT_TRUE(removed.ok());
  (*removed)->Set(7);

  EXPECT_TRUE((*family)->Remove({"drop"}));
  EXPECT_FALSE((*family)->Remove({"drop"}));
  // A handle kept past removal still works, but is rendered nowhere.
  (*removed)->Set(9);
  const std::string text = registry.Render();
  EXPECT_EQ(SampleValue(text, "demo{a=\"drop\"}"), -1);
  EXPECT_EQ(SampleValue(text, "demo{a=\"keep\"}"), 0);

  // Asking again creates a fresh series at 0.
  auto again = (*family)->Get({"drop"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Value(), 0);
}

TEST(RegistryTest, RemovesSeriesMatchingLabels) {
  Registry registry;
  auto family = registry.AddCounter({"demo_total", "Help.", {"ns", "name", "target"}});
  ASSERT_TRUE(family.ok());
  for (const char* ns : {"a", "b"}) {
    for (const char* name : {"x", "y"}) {
      for (const char* target : {"master", "worker-0"}) {
        ASSERT_TRUE((*family)->Get({ns, name, target}).ok());
      }
    }
  }

  auto one_deploy = (*family)->RemoveMatching({{"ns", "a"}, {"name", "x"}});
  ASSERT_TRUE(one_deploy.ok());
  EXPECT_EQ(*one_deploy, 2u);
  auto by_target = (*family)->RemoveMatching({{"target", "worker-0"}});
  ASSERT_TRUE(by_target.ok());
  EXPECT_EQ(*by_target, 3u);
  auto none = (*family)->RemoveMatching({{"ns", "c"}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);

  const std::string text = registry.Render();
  EXPECT_EQ(testing::LinesStartingWith(text, "demo_total{").size(), 3u);
  EXPECT_EQ(SampleValue(text, "demo_total{ns=\"a\",name=\"y\",target=\"master\"}"), 0);
  EXPECT_EQ(SampleValue(text, "demo_total{ns=\"a\",name=\"x\",target=\"master\"}"), -1);
}

TEST(RegistryTest, RemoveMatchingRejectsUnknownLabel) {
  Registry registry;
  auto family = registry.AddGauge({"demo", "Help.", {"a"}});
  ASSERT_TRUE(family.ok());
  ASSERT_TRUE((*family)->Get({"x"}).ok());

  auto removed = (*family)->RemoveMatching({{"a", "x"}, {"missing", "x"}});
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.status().message().find("no label \"missing\""), std::string::npos);
  EXPECT_EQ((*family)->size(), 1u);
}

TEST(RegistryTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  auto counters = registry.AddCounter({"demo_total", "Help.", {"worker"}});
  auto histograms = registry.AddHistogram({"demo_seconds", "Help.", {}}, {0.5});
  auto gauges = registry.AddGauge({"demo_churn", "Help.", {"id"}});
  ASSERT_TRUE(counters.ok());
  ASSERT_TRUE(histograms.ok());
  ASSERT_TRUE(gauges.ok());
  constexpr int kThreads = 4;
  constexpr int kUpdates = 20000;

  // Writers update a shared series and their own, creating and removing
  // churn series, while a reader renders and checks that the shared counter
  // never goes backwards.
  std::atomic<bool> done = false;
  std::atomic<int> reader_errors = 0;
  std::thread reader([&] {
    double last = 0;
    while (!done.load()) {
      double value = SampleValue(registry.Render(), "demo_total{worker=\"shared\"}");
      if (value < 0) continue;  // not created yet
      if (value < last) ++reader_errors;
      last = value;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string own = "w" + std::to_string(t);
      for (int i = 0; i < kUpdates; ++i) {
        (*(*counters)->Get({"shared"}))->Inc();
        (*(*counters)->Get({own}))->Inc();
        (*(*histograms)->Get({}))->Observe(i % 2 == 0 ? 0.25 : 1.0);
        const std::string churn = own + "-" + std::to_string(i % 8);
        (*(*gauges)->Get({churn}))->Set(i);
        if (i % 3 == 0) (*gauges)->Remove({churn});
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  done = true;
  reader.join();

  const std::string text = registry.Render();
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_EQ(SampleValue(text, "demo_total{worker=\"shared\"}"), kThreads * kUpdates);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(SampleValue(text, "demo_total{worker=\"w" + std::to_string(t) + "\"}"), kUpdates);
  }
  EXPECT_EQ(SampleValue(text, "demo_seconds_count"), kThreads * kUpdates);
  EXPECT_EQ(SampleValue(text, "demo_seconds_bucket{le=\"0.5\"}"), kThreads * kUpdates / 2);
  EXPECT_EQ(SampleValue(text, "demo_seconds_sum"), kThreads * kUpdates / 2 * 1.25);
}

}  // namespace
}  // namespace svcd::metrics
