#pragma once
// The hand-computed example the centroid router and the image-level MoE layer are tested on:
// 2-d embeddings, 3 experts, identity projection, and the cosine, unit-vector and softmax
// arithmetic to check them by hand.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "moedil/model/moe/centroid_router.h"

namespace moedil::model::moe::centroid_fixtures {

inline double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

inline std::vector<double> unit(std::vector<double> v) {
  double n = 0;
  for (double x : v) n += x * x;
  for (double& x : v) x /= std::sqrt(n);
  return v;
}

inline std::vector<double> softmax(const std::vector<double>& z) {
  const double m = *std::max_element(z.begin(), z.end());
  std::vector<double> p;
  double s = 0;
  for (double x : z) s += std::exp(x - m);
  for (double x : z) p.push_back(std::exp(x - m) / s);
  return p;
}

inline at::Tensor tensor_of(const std::vector<std::vector<double>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat).reshape({static_cast<int64_t>(rows.size()), -1});
}

// The hand example: 2-d embeddings, 3 experts, identity projection.
//   pooled a = [2, 0] -> e = [1, 0]            nearest fast centroid 0
//   pooled b = [3, 1] -> e = [3, 1] / sqrt(10) nearest fast centroid 0
//   pooled c = [1, 4] -> e = [1, 4] / sqrt(17) nearest fast centroid 1
// Expert 2's centroid points away from all of them and gets nothing.
inline const std::vector<std::vector<double>> kPooled{{2, 0}, {3, 1}, {1, 4}};
inline const std::vector<std::vector<double>> kFast{{1, 0}, {0, 1}, {-0.6, -0.8}};
inline const std::vector<std::vector<double>> kSlow{{0.6, 0.8}, {0.8, -0.6}, {-1, 0}};
inline const std::vector<int> kExpected{0, 0, 1};

/// Keep rates 0.9 (fast) and 0.99 (slow) unless given.
inline CentroidRouter hand_router(double temperature, double keep_fast = 0.9,
                                  double keep_slow = 0.99) {
  CentroidRouter router(CentroidRouterOptions(2, 3)
                            .alpha_fast(keep_fast)
                            .alpha_slow(keep_slow)
                            .temperature(temperature));
  at::NoGradGuard no_grad;
  router->proj->weight.copy_(at::eye(2));
  router->proj->bias.zero_();
  router->fast_centroids.copy_(tensor_of(kFast));
  router->slow_centroids.copy_(tensor_of(kSlow));
  return router;
}

}  // namespace moedil::model::moe::centroid_fixtures
