// Summary statistics of repeated measurements.

#ifndef SVCD_BENCH_STATS_H_
#define SVCD_BENCH_STATS_H_

#include <cstddef>
#include <vector>

namespace svcd::bench {

// The summary of one series of measurements, in the series' own unit.
struct Summary {
  size_t count = 0;
  double median = 0;
  double p90 = 0;  // nearest-rank 90th percentile
  double min = 0;
  double max = 0;
};

// Summarizes `values`. The median of an even count is the mean of the two
// middle values. An empty series gives a Summary of zeros.
Summary Summarize(std::vector<double> values);

// Returns numerator / denominator, or 0 when the denominator is 0.
double Ratio(double numerator, double denominator);

}  // namespace svcd::bench

#endif  // SVCD_BENCH_STATS_H_
