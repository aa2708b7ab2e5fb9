#include "moedil/model/row_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

namespace moedil::model::rows {
namespace {

/// Every kernel this CPU runs.
std::vector<Kernel> kernels() {
  std::vector<Kernel> out{Kernel::Scalar};
  if (best_kernel() != Kernel::Scalar) out.push_back(Kernel::Avx2);
  if (best_kernel() == Kernel::Avx512) out.push_back(Kernel::Avx512);
  return out;
}

const char* name(Kernel k) { return kernel_name(k); }

TEST(RowKernels, ExpWithinAFewUlpOverSoftmaxsRange) {
  std::vector<float> x;
  for (float v = -87.f; v <= 88.f; v += 0.0137f) x.push_back(v);
  x.insert(x.end(), {0.f, -0.f, 1e-8f, -1e-8f, 1.f, -1.f, 0.5f, 88.3f});
  std::vector<float> y(x.size());
  for (const Kernel k : kernels()) {
    exp(x.data(), y.data(), static_cast<int64_t>(x.size()), k);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(double(x[i]));
      worst = std::max(worst, std::abs(y[i] - want) / want);
    }
    EXPECT_LT(worst, 4e-7) << name(k);  // float's ulp is 1.19e-7 relative at most
  }
}

TEST(RowKernels, ExpAtTheEdges) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x{-inf, -1000.f, -88.f, 89.f, inf, nan, 0.f, -100.f, 100.f};
  std::vector<float> y(x.size());
  for (const Kernel k : kernels()) {
    exp(x.data(), y.data(), static_cast<int64_t>(x.size()), k);
    EXPECT_EQ(y[0], 0.f) << name(k);
    EXPECT_EQ(y[1], 0.f) << name(k);
    EXPECT_LT(y[2], 1e-37f) << name(k);
    EXPECT_EQ(y[3], inf) << name(k);
    EXPECT_EQ(y[4], inf) << name(k);
    EXPECT_TRUE(std::isnan(y[5])) << name(k);
    EXPECT_EQ(y[6], 1.f) << name(k);
    EXPECT_LT(y[7], 1e-37f) << name(k);  // 0 or a denormal
    EXPECT_EQ(y[8], inf) << name(k);
  }
}

// Rows of every length from 1 to 40 (full vectors and every tail), stored ld apart, against a
// double-precision softmax; the gap between rows is left alone. Float's error here, in units
// of 2^-24 relative: a few for the exp and the division, up to one per term of the row's sum,
// and |x - max| from rounding the exp's argument x - max (e^(x - max) carries that rounding
// times |x - max|). So (4 + n + |x - max|) units. (200,000 random rows of up to 64 floats came
// within 1.6e-6, plain C++ kernel, and 1.3e-6, AVX2; a flat 1e-6 failed one element at
// 1.07e-6, where x - max was -17, in the Debian 13 build.)
TEST(RowKernels, SoftmaxMatchesDoublePrecisionForEveryRowLength) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.f, 3.f);
  for (const Kernel k : kernels()) {
    for (int64_t n = 1; n <= 40; ++n) {
      const int64_t count = 3;
      const int64_t ld = n + 5;
      std::vector<float> data(count * ld);
      for (float& v : data) v = normal(gen);
      const std::vector<float> before = data;
      softmax(data.data(), count, n, ld, k);
      for (int64_t r = 0; r < count; ++r) {
        double max = -1e30, sum = 0;
        for (int64_t j = 0; j < n; ++j) max = std::max(max, double(before[r * ld + j]));
        for (int64_t j = 0; j < n; ++j) sum += std::exp(before[r * ld + j] - max);
        for (int64_t j = 0; j < n; ++j) {
          const double want = std::exp(before[r * ld + j] - max) / sum;
          const double units = double(4 + n) + std::abs(double(before[r * ld + j]) - max);
          EXPECT_NEAR(data[r * ld + j], want, units * 0x1p-24 * want + 1e-30)
              << name(k) << " n " << n << " row " << r << " col " << j;
        }
        for (int64_t j = n; j < ld; ++j) EXPECT_EQ(data[r * ld + j], before[r * ld + j]);
      }
    }
  }
}

// Two tokens with scores 1 and 0: e/(e+1) and 1/(e+1). A row of -inf but one: that one is 1.
// A NaN anywhere in a row makes the whole row NaN (nothing silently finite).
TEST(RowKernels, SoftmaxByHandAndItsEdges) {
  const float inf = std::numeric_limits<float>::infinity();
  const double e = std::exp(1.0);
  for (const Kernel k : kernels()) {
    std::vector<float> two{1.f, 0.f};
    softmax(two.data(), 1, 2, 2, k);
    EXPECT_NEAR(two[0], e / (e + 1), 1e-7) << name(k);
    EXPECT_NEAR(two[1], 1 / (e + 1), 1e-7) << name(k);
    std::vector<float> one_left(11, -inf);
    one_left[9] = 5.f;
    softmax(one_left.data(), 1, 11, 11, k);
    for (int j = 0; j < 11; ++j) EXPECT_EQ(one_left[j], j == 9 ? 1.f : 0.f) << name(k);
    for (const int at : {0, 8, 10}) {
      std::vector<float> row(11, 0.5f);
      row[at] = std::numeric_limits<float>::quiet_NaN();
      softmax(row.data(), 1, 11, 11, k);
      for (int j = 0; j < 11; ++j) EXPECT_TRUE(std::isnan(row[j])) << name(k) << " nan at " << at;
    }
  }
}

// grad_j := scale p_j (g_j - sum_k g_k p_k), against the formula in double, every tail.
TEST(RowKernels, SoftmaxBackwardMatchesTheFormula) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Kernel k : kernels()) {
    for (int64_t n = 1; n <= 25; ++n) {
      const int64_t count = 2;
      const int64_t ld = n + 3;
      std::vector<float> p(count * ld), g(count * ld);
      for (float& v : p) v = uniform(gen);
      for (float& v : g) v = normal(gen);
      const std::vector<float> g0 = g;
      softmax_backward(p.data(), g.data(), count, n, ld, 0.25f, k);
      for (int64_t r = 0; r < count; ++r) {
        double dot = 0;
        for (int64_t j = 0; j < n; ++j) dot += double(g0[r * ld + j]) * p[r * ld + j];
        for (int64_t j = 0; j < n; ++j) {
          const double want = 0.25 * p[r * ld + j] * (g0[r * ld + j] - dot);
          EXPECT_NEAR(g[r * ld + j], want, 1e-5 * (1 + std::abs(want))) << name(k) << " n " << n;
        }
        for (int64_t j = n; j < ld; ++j) EXPECT_EQ(g[r * ld + j], g0[r * ld + j]);
      }
    }
  }
}

// Many rows at once (the AVX2 kernels run blocks of rows pass by pass) give each row what that
// row alone gives, bit for bit: across block boundaries, a last partial block, any tail; the
// gap between rows is left alone.
TEST(RowKernels, ManyRowsAtOnceGiveWhatEachRowAloneGives) {
  std::mt19937 gen(13);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (const Kernel k : kernels()) {
    for (const int64_t n : {1, 7, 8, 50, 53}) {
      for (const int64_t count : {1, 15, 16, 17, 37}) {
        const int64_t ld = n + 2;
        std::vector<float> x(count * ld), p(count * ld), g(count * ld);
        for (float& v : x) v = normal(gen);
        for (float& v : p) v = uniform(gen);
        for (float& v : g) v = normal(gen);
        std::vector<float> x_alone = x, g_alone = g;
        softmax(x.data(), count, n, ld, k);
        softmax_backward(p.data(), g.data(), count, n, ld, 0.5f, k);
        for (int64_t r = 0; r < count; ++r) {
          softmax(x_alone.data() + r * ld, 1, n, ld, k);
          softmax_backward(p.data() + r * ld, g_alone.data() + r * ld, 1, n, ld, 0.5f, k);
        }
        EXPECT_EQ(x, x_alone) << name(k) << " n " << n << " count " << count;
        EXPECT_EQ(g, g_alone) << name(k) << " n " << n << " count " << count;
      }
    }
  }
}

// Rows far from 0 (mean 100, sd 2) test the two-pass variance; every length 1..70 tests the
// tails; the row after each is left alone.
TEST(RowKernels, LayerNormMatchesDoublePrecisionForEveryRowLength) {
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const Kernel k : kernels()) {
    for (int64_t n = 1; n <= 70; ++n) {
      const int64_t count = 3;
      std::vector<float> in(count * n + n), out(count * n + n, -7.f), w(n), b(n);
      for (float& v : in) v = 100.f + 2.f * normal(gen);
      for (float& v : w) v = 1.f + 0.5f * normal(gen);
      for (float& v : b) v = normal(gen);
      std::vector<float> mean(count + 1, -7.f), rstd(count + 1, -7.f);
      const float eps = 1e-5f;
      layer_norm(in.data(), out.data(), w.data(), b.data(), eps, mean.data(), rstd.data(), count,
                 n, k);
      for (int64_t r = 0; r < count; ++r) {
        double m = 0, var = 0;
        for (int64_t j = 0; j < n; ++j) m += in[r * n + j];
        m /= double(n);
        for (int64_t j = 0; j < n; ++j) var += (in[r * n + j] - m) * (in[r * n + j] - m);
        var /= double(n);
        const double rs = 1.0 / std::sqrt(var + eps);
        EXPECT_NEAR(mean[r], m, 1e-5 * std::abs(m)) << name(k) << " n " << n;
        EXPECT_NEAR(rstd[r], rs, 2e-4 * rs) << name(k) << " n " << n;
        for (int64_t j = 0; j < n; ++j) {
          const double want = (in[r * n + j] - m) * rs * w[j] + b[j];
          EXPECT_NEAR(out[r * n + j], want, 2e-4 * (1 + std::abs(want)))
              << name(k) << " n " << n << " row " << r << " col " << j;
        }
      }
      EXPECT_EQ(mean[count], -7.f);
      EXPECT_EQ(rstd[count], -7.f);
      for (int64_t j = count * n; j < count * n + n; ++j) EXPECT_EQ(out[j], -7.f);
    }
  }
}

// By hand: the row (1, 3) has mean 2, variance 1, so with eps 0 it becomes (-1, 1), then
// times the weights (2, 3) plus the biases (0.5, -0.5); without weight and bias, (-1, 1).
TEST(RowKernels, LayerNormByHand) {
  for (const Kernel k : kernels()) {
    const float in[2] = {1.f, 3.f};
    const float w[2] = {2.f, 3.f};
    const float b[2] = {0.5f, -0.5f};
    float out[2], mean = 0, rstd = 0;
    layer_norm(in, out, w, b, 0.f, &mean, &rstd, 1, 2, k);
    EXPECT_FLOAT_EQ(out[0], -1.5f) << name(k);
    EXPECT_FLOAT_EQ(out[1], 2.5f) << name(k);
    EXPECT_FLOAT_EQ(mean, 2.f) << name(k);
    EXPECT_FLOAT_EQ(rstd, 1.f) << name(k);
    layer_norm(in, out, nullptr, nullptr, 0.f, nullptr, nullptr, 1, 2, k);
    EXPECT_FLOAT_EQ(out[0], -1.f) << name(k);
    EXPECT_FLOAT_EQ(out[1], 1.f) << name(k);
  }
}

// The backward against central differences of L = sum_j g_j y_j in double precision (of the
// forward computed in double), for every length 1..70 (the tails); d(weight) and d(bias)
// start at 0.25 and must gain exactly the rows' sums; the row after the last is left alone.
TEST(RowKernels, LayerNormBackwardMatchesDoublePrecisionDifferences) {
  std::mt19937 gen(12);
  std::normal_distribution<float> normal(0.f, 1.f);
  const double eps = 1e-5;
  // y_j of one row in double.
  const auto forward = [&](const std::vector<double>& x, const std::vector<float>& w,
                           std::vector<double>& y) {
    const auto n = static_cast<double>(x.size());
    double m = 0, var = 0;
    for (const double v : x) m += v;
    m /= n;
    for (const double v : x) var += (v - m) * (v - m);
    const double rs = 1.0 / std::sqrt(var / n + eps);
    for (std::size_t j = 0; j < x.size(); ++j) y[j] = (x[j] - m) * rs * w[j];
  };
  for (const Kernel k : kernels()) {
    for (int64_t n = 1; n <= 70; ++n) {
      const int64_t count = 2;
      std::vector<float> in(count * n), g(count * n), w(n), out(count * n);
      for (float& v : in) v = 3.f + 2.f * normal(gen);
      for (float& v : g) v = normal(gen);
      for (float& v : w) v = 1.f + 0.5f * normal(gen);
      std::vector<float> mean(count), rstd(count);
      layer_norm(in.data(), out.data(), w.data(), nullptr, static_cast<float>(eps), mean.data(),
                 rstd.data(), count, n, k);
      std::vector<float> dx(count * n + n, -7.f), dw(n, 0.25f), db(n, 0.25f);
      layer_norm_backward(in.data(), g.data(), mean.data(), rstd.data(), w.data(), dx.data(),
                          dw.data(), db.data(), count, n, k);
      std::vector<double> want_dw(n, 0.25), want_db(n, 0.25);
      for (int64_t r = 0; r < count; ++r) {
        std::vector<double> x(in.begin() + r * n, in.begin() + (r + 1) * n), y(n);
        forward(x, w, y);
        for (int64_t j = 0; j < n; ++j) {
          // y_j = xhat_j w_j, so d(weight)_j gains g_j xhat_j = g_j y_j / w_j.
          want_dw[j] += g[r * n + j] * y[j] / w[j];
          want_db[j] += g[r * n + j];
        }
        for (int64_t i = 0; i < n; ++i) {
          const double h = 1e-4 * (1 + std::abs(x[i]));
          std::vector<double> plus = x, minus = x, yp(n), ym(n);
          plus[i] += h;
          minus[i] -= h;
          forward(plus, w, yp);
          forward(minus, w, ym);
          double want = 0;
          for (int64_t j = 0; j < n; ++j) want += g[r * n + j] * (yp[j] - ym[j]) / (2 * h);
          EXPECT_NEAR(dx[r * n + i], want, 1e-4 * (1 + std::abs(want)))
              << name(k) << " n " << n << " row " << r << " col " << i;
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        EXPECT_NEAR(dw[j], want_dw[j], 1e-4 * (1 + std::abs(want_dw[j]))) << name(k) << " n " << n;
        EXPECT_NEAR(db[j], want_db[j], 1e-5 * (1 + std::abs(want_db[j]))) << name(k) << " n " << n;
      }
      for (int64_t j = count * n; j < count * n + n; ++j) EXPECT_EQ(dx[j], -7.f);
    }
  }
}

// By hand: the row (1, 1, 3, 3) has mean 2 and variance 1, so with eps 0 xhat = (-1, -1, 1, 1);
// with weight 1 and g = (1, 0, 0, 0): mean(a) = 1/4, mean(a xhat) = -1/4, so
// dx = (1 - 1/4 - 1/4, -1/4 - 1/4, -1/4 + 1/4, -1/4 + 1/4) = (0.5, -0.5, 0, 0); d(weight) gains
// g xhat = (-1, 0, 0, 0) and d(bias) g. Without dx, the sums alone.
TEST(RowKernels, LayerNormBackwardByHand) {
  for (const Kernel k : kernels()) {
    const float x[4] = {1.f, 1.f, 3.f, 3.f};
    const float g[4] = {1.f, 0.f, 0.f, 0.f};
    const float mean = 2.f;
    const float rstd = 1.f;
    float dx[4];
    float dw[4] = {10.f, 10.f, 10.f, 10.f};
    float db[4] = {0.f, 0.f, 0.f, 0.f};
    layer_norm_backward(x, g, &mean, &rstd, nullptr, dx, dw, db, 1, 4, k);
    const float want_dx[4] = {0.5f, -0.5f, 0.f, 0.f};
    const float want_dw[4] = {9.f, 10.f, 10.f, 10.f};
    const float want_db[4] = {1.f, 0.f, 0.f, 0.f};
    for (int j = 0; j < 4; ++j) {
      EXPECT_FLOAT_EQ(dx[j], want_dx[j]) << name(k) << " col " << j;
      EXPECT_FLOAT_EQ(dw[j], want_dw[j]) << name(k) << " col " << j;
      EXPECT_FLOAT_EQ(db[j], want_db[j]) << name(k) << " col " << j;
    }
    layer_norm_backward(x, g, &mean, &rstd, nullptr, nullptr, dw, nullptr, 1, 4, k);
    EXPECT_FLOAT_EQ(dw[0], 8.f) << name(k);
    EXPECT_FLOAT_EQ(db[0], 1.f) << name(k);
  }
}

// GELU and its derivative against double precision over [-10, 10] and at every length up to
// 20 (the tails): within the erf approximation's 1.5e-7 (times |x| / 2) plus float rounding; in
// place too; the float after the end left alone.
TEST(RowKernels, GeluAndItsBackwardMatchDoublePrecision) {
  std::vector<float> x;
  for (float v = -10.f; v <= 10.f; v += 0.00731f) x.push_back(v);
  x.insert(x.end(), {0.f, -0.f, 1e-8f, -1e-8f, 1.f, -1.f, 3.f, -3.f, 40.f, -40.f});
  std::vector<float> g(x.size());
  std::mt19937 gen(13);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : g) v = normal(gen);
  const auto n = static_cast<int64_t>(x.size());
  for (const Kernel k : kernels()) {
    std::vector<float> y(x.size() + 1, -7.f), dx(x.size() + 1, -7.f);
    gelu(x.data(), y.data(), n, k);
    gelu_backward(x.data(), g.data(), dx.data(), n, k);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      const double cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
      const double want = v * cdf;
      const double want_d = g[i] * (cdf + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI));
      EXPECT_NEAR(y[i], want, 1e-7 * std::abs(v) + 2e-7 * std::abs(want) + 1e-30)
          << name(k) << " x " << v;
      EXPECT_NEAR(dx[i], want_d, std::abs(g[i]) * (2e-7 + 4e-7 * std::abs(v)) + 1e-30)
          << name(k) << " x " << v;
    }
    EXPECT_EQ(y.back(), -7.f);
    EXPECT_EQ(dx.back(), -7.f);
    std::vector<float> same = x;
    gelu(same.data(), same.data(), n, k);
    EXPECT_EQ(same, std::vector<float>(y.begin(), y.end() - 1)) << name(k);
    for (int64_t len = 1; len <= 20; ++len) {
      std::vector<float> part(len + 1, -7.f);
      gelu(x.data() + 1000, part.data(), len, k);
      for (int64_t i = 0; i < len; ++i) {
        EXPECT_EQ(part[i], y[1000 + i]) << name(k) << " len " << len;
      }
      EXPECT_EQ(part[len], -7.f) << name(k) << " len " << len;
    }
  }
}

// By hand: GELU(0) = 0 with slope 1/2; GELU(x) -> x for large x with slope 1, -> 0 for very
// negative x; NaN stays NaN.
TEST(RowKernels, GeluByHand) {
  for (const Kernel k : kernels()) {
    const float x[4] = {0.f, 12.f, -12.f, std::numeric_limits<float>::quiet_NaN()};
    const float g[4] = {2.f, 3.f, 5.f, 1.f};
    float y[4], dx[4];
    gelu(x, y, 4, k);
    gelu_backward(x, g, dx, 4, k);
    EXPECT_EQ(y[0], 0.f) << name(k);
    EXPECT_FLOAT_EQ(y[1], 12.f) << name(k);
    EXPECT_NEAR(y[2], 0.f, 1e-20) << name(k);
    EXPECT_TRUE(std::isnan(y[3])) << name(k);
    EXPECT_FLOAT_EQ(dx[0], 1.f) << name(k);
    EXPECT_FLOAT_EQ(dx[1], 3.f) << name(k);
    EXPECT_NEAR(dx[2], 0.f, 1e-20) << name(k);
    EXPECT_TRUE(std::isnan(dx[3])) << name(k);
  }
}

TEST(RowKernels, FastestKernelTheCpuHasIsChosen) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  const Kernel cpu = avx512 ? Kernel::Avx512 : avx2 ? Kernel::Avx2 : Kernel::Scalar;
  EXPECT_EQ(best_kernel(), capped_kernel(cpu, std::getenv("ATEN_CPU_CAPABILITY")));
#else
  EXPECT_EQ(best_kernel(), Kernel::Scalar);
#endif
}

TEST(RowKernels, KernelNames) {
  EXPECT_STREQ(kernel_name(Kernel::Scalar), "scalar");
  EXPECT_STREQ(kernel_name(Kernel::Avx2), "avx2");
  EXPECT_STREQ(kernel_name(Kernel::Avx512), "avx512");
}

TEST(RowKernels, AtenCpuCapabilityCapsTheKernels) {
  EXPECT_EQ(capped_kernel(Kernel::Avx512, nullptr), Kernel::Avx512);
  EXPECT_EQ(capped_kernel(Kernel::Avx512, "avx2"), Kernel::Avx2);
  EXPECT_EQ(capped_kernel(Kernel::Avx512, "default"), Kernel::Scalar);
  EXPECT_EQ(capped_kernel(Kernel::Avx512, "avx512"), Kernel::Avx512);
  EXPECT_EQ(capped_kernel(Kernel::Avx2, "avx512"), Kernel::Avx2);  // never above the CPU's
  EXPECT_EQ(capped_kernel(Kernel::Avx2, "avx2"), Kernel::Avx2);
  EXPECT_EQ(capped_kernel(Kernel::Scalar, "avx2"), Kernel::Scalar);
}

// Avx512 gives Avx2's bits: exp and GELU by AVX-512's steps, which are AVX2's, tails included
// (every length from 1 to 40 covers each tail of 8 and of 16 lanes); the softmax and its
// backward by the AVX2 kernels themselves. So a run's metrics do not depend on which of the two
// the CPU has.
TEST(RowKernels, Avx512GivesAvx2sBits) {
  if (best_kernel() != Kernel::Avx512) GTEST_SKIP() << "this CPU has no AVX-512";
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.f, 3.f);
  for (int64_t n = 1; n <= 40; ++n) {
    std::vector<float> x(static_cast<std::size_t>(n)), g(x.size());
    for (auto& v : x) v = normal(gen);
    for (auto& v : g) v = normal(gen);
    // One float past the end of the output: the tails must not write there.
    std::vector<float> a(x.size() + 1, -7.f), b(x.size() + 1, -7.f);
    exp(x.data(), a.data(), n, Kernel::Avx2);
    exp(x.data(), b.data(), n, Kernel::Avx512);
    EXPECT_EQ(a, b) << "exp, n " << n;
    gelu(x.data(), a.data(), n, Kernel::Avx2);
    gelu(x.data(), b.data(), n, Kernel::Avx512);
    EXPECT_EQ(a, b) << "gelu, n " << n;
    gelu_backward(x.data(), g.data(), a.data(), n, Kernel::Avx2);
    gelu_backward(x.data(), g.data(), b.data(), n, Kernel::Avx512);
    EXPECT_EQ(a, b) << "gelu_backward, n " << n;
    EXPECT_EQ(b.back(), -7.f) << "n " << n;
    std::copy(x.begin(), x.end(), a.begin());
    std::copy(x.begin(), x.end(), b.begin());
    softmax(a.data(), 1, n, n, Kernel::Avx2);
    softmax(b.data(), 1, n, n, Kernel::Avx512);
    EXPECT_EQ(a, b) << "softmax, n " << n;
    std::vector<float> ga(g), gb(g);
    softmax_backward(a.data(), ga.data(), 1, n, n, 0.5f, Kernel::Avx2);
    softmax_backward(b.data(), gb.data(), 1, n, n, 0.5f, Kernel::Avx512);
    EXPECT_EQ(ga, gb) << "softmax_backward, n " << n;
  }
}

}  // namespace
}  // namespace moedil::model::rows
