// A small Prometheus metrics registry: counter, gauge and histogram families
// whose series are created by label values, and a snapshot of every family
// that text_format.h renders in the text exposition format 0.0.4.
//
// Thread-safety: every method of every class here may be called from any
// thread. Updating a series is one atomic operation. Finding or creating a
// series by label values is a map lookup under the family's mutex, without
// allocation when the series exists. A snapshot holds each family's mutex
// only while it copies the family's series pointers, so rendering never
// makes a writer wait for the formatting.

#ifndef SVCD_METRICS_REGISTRY_H_
#define SVCD_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace svcd::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// Returns "counter", "gauge" or "histogram", as the TYPE line writes it.
const char* MetricTypeName(MetricType type);

// Checks a metric name: `[a-zA-Z_][a-zA-Z0-9_]*`. Colons, which the format
// allows, are rejected because Prometheus reserves them for recording rules.
// Returns InvalidArgument naming the name and the rule.
Status ValidateMetricName(std::string_view name);

// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with "__",
// which Prometheus reserves for internal labels. Returns InvalidArgument.
Status ValidateLabelName(std::string_view name);

// Returns true when `text` is valid UTF-8, which the text format requires of
// HELP text and label values.
bool IsValidUtf8(std::string_view text);

// A value that only goes up.
class Counter {
 public:
  // Adds `amount`. A negative or NaN amount is ignored, because a counter
  // must never decrease.
  void Inc(double amount = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that can go up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// The state of one histogram series at one moment.
struct HistogramValue {
  // Observations at or below each upper bound, in bound order; the last
  // entry is the +Inf bucket and equals `count`.
  std::vector<uint64_t> cumulative_counts;
  double sum = 0;
  uint64_t count = 0;
};

// Counts observations into fixed buckets.
class Histogram {
 public:
  // `bounds` are the finite upper bounds, strictly increasing; a +Inf bucket
  // follows them implicitly.
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  // Counts `value` in the first bucket whose bound is >= value. NaN is
  // ignored.
  void Observe(double value);

  // Reads the buckets and the sum. The count is derived from the buckets, so
  // the +Inf bucket and `count` always agree. NOTE: the sum is a separate
  // atomic, so an observation in progress may be in the buckets but not yet
  // in the sum.
  HistogramValue Value() const;

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

// One series of a snapshot. `value` is set for counters and gauges,
// `histogram` for histograms.
struct SeriesSample {
  std::vector<std::string> label_values;
  double value = 0;
  HistogramValue histogram;
};

// One family of a snapshot, with its series ordered by label values.
struct FamilySample {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms only, without +Inf
  std::vector<SeriesSample> series;
};

// The name, HELP text and label names of a family.
struct FamilyOptions {
  std::string name;
  std::string help;  // required, valid UTF-8; may hold any character
  std::vector<std::string> label_names;
};

// Requires one label to have one value, for removing series.
struct LabelMatch {
  std::string_view name;
  std::string_view value;
};

using LabelValues = std::span<const std::string_view>;

// The part of a family that the registry renders.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Copies every series' labels and values. Holds the family's mutex only
  // while copying the series pointers.
  virtual FamilySample Sample() const = 0;

 protected:
  FamilyBase(FamilyOptions options, MetricType type);

  // Returns the positions of `matches` in label_names(), or InvalidArgument
  // naming a label the family does not have.
  StatusOr<std::vector<size_t>> MatchPositions(std::span<const LabelMatch> matches) const;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// Orders label value lists, and compares them with LabelValues without
// building a vector, so a lookup of an existing series allocates nothing.
struct LabelValuesLess {
  using is_transparent = void;
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const;
  bool operator()(const std::vector<std::string>& a, LabelValues b) const;
  bool operator()(LabelValues a, const std::vector<std::string>& b) const;
};

// The series of one metric, keyed by label values. `Series` is Counter,
// Gauge or Histogram. Registry creates and owns every family.
template <typename Series>
class Family final : public FamilyBase {
 public:
  Family(FamilyOptions options, MetricType type,
         std::shared_ptr<const std::vector<double>> bounds = nullptr);

  // Returns the series with these label values, one per label name in
  // order, creating it at 0 when missing. Returns InvalidArgument, and
  // creates nothing, when the number of values differs from the number of
  // label names or a value is not valid UTF-8. The returned pointer stays
  // usable after the series is removed, but its updates are then rendered
  // nowhere.
  StatusOr<std::shared_ptr<Series>> Get(LabelValues values);
  StatusOr<std::shared_ptr<Series>> Get(std::initializer_list<std::string_view> values) {
    return Get(LabelValues(values.begin(), values.size()));
  }

  // Creates every combination of the given values, one list per label name,
  // so that a family with a fixed label set renders all of them from the
  // start. Returns InvalidArgument as Get does; combinations created before
  // the failing one are kept.
  Status DeclareCombinations(const std::vector<std::vector<std::string>>& values_per_label);

  // Removes the series with exactly these label values. Returns true when
  // one was removed.
  bool Remove(LabelValues values);
  bool Remove(std::initializer_list<std::string_view> values) {
    return Remove(LabelValues(values.begin(), values.size()));
  }

  // Removes every series whose labels have all the given values. Returns the
  // number removed, or InvalidArgument, removing nothing, when a match names
  // a label the family does not have.
  StatusOr<size_t> RemoveMatching(std::span<const LabelMatch> matches);
  StatusOr<size_t> RemoveMatching(std::initializer_list<LabelMatch> matches) {
    return RemoveMatching(std::span<const LabelMatch>(matches.begin(), matches.size()));
  }

  // Returns the number of series.
  size_t size() const;

  FamilySample Sample() const override;

 private:
  struct Node;

  const std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
  mutable std::mutex mutex_;
  // Guarded by mutex_. A node's label values never change after creation.
  std::map<std::vector<std::string>, std::shared_ptr<Node>, LabelValuesLess> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns the families and renders them together.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. The returned pointer is owned by the registry and
  // valid for its lifetime. Each returns InvalidArgument, and registers
  // nothing, for an invalid or reserved metric or label name, a label name
  // given twice, empty or non-UTF-8 help, or a name already registered or
  // clashing with a histogram's _bucket, _sum or _count lines. Counter
  // names must end in "_total" and other names must not, as Prometheus'
  // naming rules (checked by `promtool check metrics`) ask.
  StatusOr<CounterFamily*> AddCounter(FamilyOptions options);
  StatusOr<GaugeFamily*> AddGauge(FamilyOptions options);

  // Also rejects a label named "le", and bucket bounds that are empty, not
  // finite or not strictly increasing. A trailing +Inf bound is dropped
  // because the +Inf bucket is always rendered.
  StatusOr<HistogramFamily*> AddHistogram(FamilyOptions options, std::vector<double> bounds);

  // Copies every family, ordered by name.
  std::vector<FamilySample> Snapshot() const;

  // Renders Snapshot() in the text format 0.0.4 (see text_format.h).
  std::string Render() const;

 private:
  Status CheckFamily(const FamilyOptions& options, MetricType type) const;

  mutable std::mutex mutex_;
  // Guarded by mutex_, keyed by name.
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
};

}  // namespace svcd::metrics

#endif  // SVCD_METRICS_REGISTRY_H_
