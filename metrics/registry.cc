#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "metrics/text_format.h"

namespace svcd::metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

bool IsIdentifier(std::string_view name) {
  return !name.empty() && IsNameStart(name[0]) && std::all_of(name.begin(), name.end(), IsNameChar);
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Checks the naming rules that `promtool check metrics` reports, so that a
// registered family can never make the exposition fail that check.
Status CheckSuffixes(std::string_view name, MetricType type) {
  const std::string context = "metric name \"" + std::string(name) + "\": ";
  for (std::string_view reserved : {"_bucket", "_sum", "_count"}) {
    if (EndsWith(name, reserved)) {
      return Status::InvalidArgument(context + "must not end in \"" + std::string(reserved) +
                                     "\", which histogram lines use; choose another name");
    }
  }
  bool total = EndsWith(name, "_total");
  if (type == MetricType::kCounter && !total) {
    return Status::InvalidArgument(context + "a counter's name must end in \"_total\"");
  }
  if (type != MetricType::kCounter && total) {
    return Status::InvalidArgument(context + "only counters may end in \"_total\"; this is a " +
                                   MetricTypeName(type));
  }
  return Status::Ok();
}

Status CheckBounds(const std::string& name, std::vector<double>& bounds) {
  if (!bounds.empty() && bounds.back() == INFINITY) bounds.pop_back();
  const std::string context = "histogram " + name + ": bucket bounds ";
  if (bounds.empty()) {
    return Status::InvalidArgument(context + "must hold at least one finite bound");
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return Status::InvalidArgument(context + "must be finite; bound " + std::to_string(i) +
                                     " is " + FormatValue(bounds[i]));
    }
    if (i > 0 && bounds[i] <= bounds[i - 1]) {
      return Status::InvalidArgument(context + "must be strictly increasing; bound " +
                                     std::to_string(i) + " (" + FormatValue(bounds[i]) +
                                     ") is not above " + FormatValue(bounds[i - 1]));
    }
  }
  return Status::Ok();
}

template <typename A, typename B>
bool LexicographicLess(const A& a, const B& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

}  // namespace

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

Status ValidateMetricName(std::string_view name) {
  if (IsIdentifier(name)) return Status::Ok();
  std::string message =
      "metric name \"" + std::string(name) + "\" is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*";
  if (name.find(':') != std::string_view::npos) {
    message += " (colons are reserved for recording rules)";
  }
  return Status::InvalidArgument(message);
}

Status ValidateLabelName(std::string_view name) {
  if (!IsIdentifier(name)) {
    return Status::InvalidArgument("label name \"" + std::string(name) +
                                   "\" is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*");
  }
  if (name.starts_with("__")) {
    return Status::InvalidArgument("label name \"" + std::string(name) +
                                   "\" is reserved: names starting with \"__\" are for "
                                   "Prometheus' own use");
  }
  return Status::Ok();
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80           ? 1
                    : (byte >> 5) == 0x6  ? 2
                    : (byte >> 4) == 0xE  ? 3
                    : (byte >> 3) == 0x1E ? 4
                                          : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? byte : byte & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Reject overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return false;
    }
    i += length;
  }
  return true;
}

void Counter::Inc(double amount) {
  if (!(amount >= 0)) return;  // also false for NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  size_t bucket = std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

HistogramValue Histogram::Value() const {
  HistogramValue value;
  value.cumulative_counts.reserve(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    value.cumulative_counts.push_back(total);
  }
  value.count = total;
  value.sum = sum_.load(std::memory_order_relaxed);
  return value;
}

bool LabelValuesLess::operator()(const std::vector<std::string>& a,
                                 const std::vector<std::string>& b) const {
  return a < b;
}

bool LabelValuesLess::operator()(const std::vector<std::string>& a, LabelValues b) const {
  return LexicographicLess(a, b);
}

bool LabelValuesLess::operator()(LabelValues a, const std::vector<std::string>& b) const {
  return LexicographicLess(a, b);
}

FamilyBase::FamilyBase(FamilyOptions options, MetricType type)
    : name_(std::move(options.name)),
      help_(std::move(options.help)),
      type_(type),
      label_names_(std::move(options.label_names)) {}

StatusOr<std::vector<size_t>> FamilyBase::MatchPositions(
    std::span<const LabelMatch> matches) const {
  std::vector<size_t> positions;
  for (const LabelMatch& match : matches) {
    auto it = std::find(label_names_.begin(), label_names_.end(), match.name);
    if (it == label_names_.end()) {
      return Status::InvalidArgument("metric " + name_ + " has no label \"" +
                                     std::string(match.name) + "\"");
    }
    positions.push_back(it - label_names_.begin());
  }
  return positions;
}

template <typename Series>
struct Family<Series>::Node {
  template <typename... Args>
  explicit Node(std::vector<std::string> values, Args&&... args)
      : label_values(std::move(values)), series(std::forward<Args>(args)...) {}

  const std::vector<std::string> label_values;
  Series series;
};

template <typename Series>
Family<Series>::Family(FamilyOptions options, MetricType type,
                       std::shared_ptr<const std::vector<double>> bounds)
    : FamilyBase(std::move(options), type), bounds_(std::move(bounds)) {}

template <typename Series>
StatusOr<std::shared_ptr<Series>> Family<Series>::Get(LabelValues values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = series_.find(values);
  if (it != series_.end()) return std::shared_ptr<Series>(it->second, &it->second->series);

  // A new series: check the values once, here, so lookups stay cheap.
  if (values.size() != label_names_.size()) {
    return Status::InvalidArgument("metric " + name_ + ": got " + std::to_string(values.size()) +
                                   " label values for " + std::to_string(label_names_.size()) +
                                   " label names");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!IsValidUtf8(values[i])) {
      return Status::InvalidArgument("metric " + name_ + ": the value of label " + label_names_[i] +
                                     " is not valid UTF-8");
    }
  }
  std::vector<std::string> key(values.begin(), values.end());
  std::shared_ptr<Node> node;
  if constexpr (std::is_same_v<Series, Histogram>) {
    node = std::make_shared<Node>(key, bounds_);
  } else {
    node = std::make_shared<Node>(key);
  }
  series_.emplace(std::move(key), node);
  return std::shared_ptr<Series>(node, &node->series);
}

template <typename Series>
Status Family<Series>::DeclareCombinations(
    const std::vector<std::vector<std::string>>& values_per_label) {
  if (values_per_label.size() != label_names_.size()) {
    return Status::InvalidArgument("metric " + name_ + ": got " +
                                   std::to_string(values_per_label.size()) + " value lists for " +
                                   std::to_string(label_names_.size()) + " label names");
  }
  // Walk the combinations like an odometer, the last label turning fastest.
  std::vector<size_t> index(values_per_label.size(), 0);
  for (const auto& values : values_per_label) {
    if (values.empty()) return Status::Ok();
  }
  while (true) {
    std::vector<std::string_view> combination;
    for (size_t i = 0; i < index.size(); ++i) combination.push_back(values_per_label[i][index[i]]);
    StatusOr<std::shared_ptr<Series>> created = Get(combination);
    if (!created.ok()) return created.status();

    size_t position = index.size();
    while (position > 0 && ++index[position - 1] == values_per_label[position - 1].size()) {
      index[--position] = 0;
    }
    if (position == 0) return Status::Ok();
  }
}

template <typename Series>
bool Family<Series>::Remove(LabelValues values) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = series_.find(values);
  if (it == series_.end()) return false;
  series_.erase(it);
  return true;
}

template <typename Series>
StatusOr<size_t> Family<Series>::RemoveMatching(std::span<const LabelMatch> matches) {
  StatusOr<std::vector<size_t>> positions = MatchPositions(matches);
  if (!positions.ok()) return positions.status();

  std::lock_guard<std::mutex> lock(mutex_);
  size_t removed = 0;
  for (auto it = series_.begin(); it != series_.end();) {
    bool all = true;
    for (size_t i = 0; i < matches.size() && all; ++i) {
      all = it->first[(*positions)[i]] == matches[i].value;
    }
    if (all) {
      it = series_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

template <typename Series>
size_t Family<Series>::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return series_.size();
}

template <typename Series>
FamilySample Family<Series>::Sample() const {
  // Copy the pointers under the lock and read the values after it, so the
  // lock is held for no longer than a vector copy.
  std::vector<std::shared_ptr<Node>> nodes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    nodes.reserve(series_.size());
    for (const auto& entry : series_) nodes.push_back(entry.second);
  }

  FamilySample sample{name_, help_, type_, label_names_, {}, {}};
  if (bounds_) sample.bounds = *bounds_;
  sample.series.reserve(nodes.size());
  for (const auto& node : nodes) {
    SeriesSample series{node->label_values, 0, {}};
    if constexpr (std::is_same_v<Series, Histogram>) {
      series.histogram = node->series.Value();
    } else {
      series.value = node->series.Value();
    }
    sample.series.push_back(std::move(series));
  }
  return sample;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Status Registry::CheckFamily(const FamilyOptions& options, MetricType type) const {
  if (Status name = ValidateMetricName(options.name); !name.ok()) return name;
  if (Status suffix = CheckSuffixes(options.name, type); !suffix.ok()) return suffix;
  const std::string context = "metric " + options.name + ": ";
  if (options.help.empty() || !IsValidUtf8(options.help)) {
    return Status::InvalidArgument(context + "help must be non-empty UTF-8 text");
  }
  std::set<std::string_view> seen;
  for (const std::string& label : options.label_names) {
    if (Status valid = ValidateLabelName(label); !valid.ok()) {
      return Status::InvalidArgument(context + valid.message());
    }
    if (type == MetricType::kHistogram && label == "le") {
      return Status::InvalidArgument(context +
                                     "a histogram may not have a label named \"le\", "
                                     "which its bucket lines use");
    }
    if (!seen.insert(label).second) {
      return Status::InvalidArgument(context + "label \"" + label + "\" is given twice");
    }
  }
  if (families_.count(options.name) > 0) {
    return Status::InvalidArgument(context + "a metric of that name is already registered");
  }
  return Status::Ok();
}

StatusOr<CounterFamily*> Registry::AddCounter(FamilyOptions options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status valid = CheckFamily(options, MetricType::kCounter); !valid.ok()) return valid;
  auto family = std::make_unique<CounterFamily>(std::move(options), MetricType::kCounter);
  CounterFamily* raw = family.get();
  families_.emplace(raw->name(), std::move(family));
  return raw;
}

StatusOr<GaugeFamily*> Registry::AddGauge(FamilyOptions options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status valid = CheckFamily(options, MetricType::kGauge); !valid.ok()) return valid;
  auto family = std::make_unique<GaugeFamily>(std::move(options), MetricType::kGauge);
  GaugeFamily* raw = family.get();
  families_.emplace(raw->name(), std::move(family));
  return raw;
}

StatusOr<HistogramFamily*> Registry::AddHistogram(FamilyOptions options,
                                                  std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status valid = CheckFamily(options, MetricType::kHistogram); !valid.ok()) return valid;
  if (Status valid = CheckBounds(options.name, bounds); !valid.ok()) return valid;
  auto shared = std::make_shared<const std::vector<double>>(std::move(bounds));
  auto family =
      std::make_unique<HistogramFamily>(std::move(options), MetricType::kHistogram, shared);
  HistogramFamily* raw = family.get();
  families_.emplace(raw->name(), std::move(family));
  return raw;
}

std::vector<FamilySample> Registry::Snapshot() const {
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : families_) families.push_back(entry.second.get());
  }
  // Families are never removed, so the pointers stay valid without the lock.
  std::vector<FamilySample> samples;
  samples.reserve(families.size());
  for (const FamilyBase* family : families) samples.push_back(family->Sample());
  return samples;
}

std::string Registry::Render() const { return RenderText(Snapshot()); }

}  // namespace svcd::metrics
