#include "moedil/model/head_products.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "float_data.h"

namespace moedil::model::heads {
namespace {

using rows::Kernel;
using testing::random_floats;
using testing::same_bits;

/// The vector kernels this CPU runs (none on a CPU without AVX2: every test below then skips).
std::vector<Kernel> kernels() {
  std::vector<Kernel> out;
  if (rows::best_kernel() >= Kernel::Avx2) out.push_back(Kernel::Avx2);
  if (rows::best_kernel() >= Kernel::Avx512) out.push_back(Kernel::Avx512);
  return out;
}

/// The reference: sum_i a[i * a_step] * b[i * b_step] over i < n as a chain of std::fma from 0
/// (what the kernels must give bit for bit), and in double precision in `exact`.
float fma_chain(const float* a, int64_t a_step, const float* b, int64_t b_step, int64_t n,
                double* exact) {
  float acc = 0.0f;
  *exact = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    acc = std::fma(a[i * a_step], b[i * b_step], acc);
    *exact += double(a[i * a_step]) * double(b[i * b_step]);
  }
  return acc;
}

std::string case_name(Kernel kernel, int64_t dh, int64_t tk, int64_t tq) {
  return std::string(rows::kernel_name(kernel)) + " dh " + std::to_string(dh) + " tk " +
         std::to_string(tk) + " tq " + std::to_string(tq);
}

const float kSentinel = 12345.0f;
const float kNegInf = -std::numeric_limits<float>::infinity();

// Every length of keys around the vector widths, head dims of 1-8 vectors, strides wider than
// the rows: each score is the chain of fused multiply-adds in d's order times the scale (the
// bits of std::fma), the columns from tk to padded_keys(tk) hold -inf and nothing past them
// is written. Within float rounding of double precision too.
TEST(HeadProducts, ScoresAreFmaChainsInOrderWithMinusInfinityPadding) {
  if (kernels().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  const float scale = 0.25f;
  for (const int64_t dh : {8, 16, 24, 64}) {
    for (const int64_t tk : {1, 7, 8, 9, 15, 16, 17, 31, 33, 50, 64, 65}) {
      for (const int64_t tq : {1, 5, 13}) {
        const int64_t ldq = 3 * dh + 5, ldk = 2 * dh + 3, lds = padded_keys(tk) + 9;
        const auto q = random_floats(static_cast<std::size_t>(tq * ldq), 1);
        const auto k = random_floats(static_cast<std::size_t>(tk * ldk), 2);
        for (const Kernel kernel : kernels()) {
          std::vector<float> s(static_cast<std::size_t>(tq * lds), kSentinel);
          std::vector<float> scratch(static_cast<std::size_t>(scratch_floats(tk, dh)), kSentinel);
          scores(q.data(), ldq, k.data(), ldk, tq, tk, dh, scale, s.data(), lds, scratch.data(),
                 kernel);
          const std::string where = case_name(kernel, dh, tk, tq);
          for (int64_t i = 0; i < tq; ++i) {
            for (int64_t j = 0; j < tk; ++j) {
              double exact = 0.0;
              const float acc = fma_chain(&q[i * ldq], 1, &k[j * ldk], 1, dh, &exact);
              const float got = s[i * lds + j];
              ASSERT_TRUE(same_bits(got, acc * scale))
                  << where << " at " << i << "," << j << ": " << got << " vs " << acc * scale;
              ASSERT_NEAR(got, exact * scale, 1e-5 * (1.0 + std::abs(exact))) << where;
            }
            for (int64_t j = tk; j < padded_keys(tk); ++j) {
              ASSERT_EQ(s[i * lds + j], kNegInf) << where << " padding column " << j;
            }
            for (int64_t j = padded_keys(tk); j < lds; ++j) {
              ASSERT_EQ(s[i * lds + j], kSentinel) << where << " column " << j << " past it";
            }
          }
        }
      }
    }
  }
}

// The weighted sum: each output the chain of fused multiply-adds in j's order; the columns
// between head_dim and the output's stride stay as they were.
TEST(HeadProducts, WeightedSumIsFmaChainsInOrder) {
  if (kernels().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const int64_t dh : {8, 16, 24, 32, 40, 64}) {
    for (const int64_t tk : {1, 2, 9, 50, 65}) {
      for (const int64_t tq : {1, 5, 7, 13, 50}) {
        const int64_t ldp = tk + 3, ldv = 3 * dh + 1, ldo = dh + 11;
        const auto p = random_floats(static_cast<std::size_t>(tq * ldp), 3);
        const auto v = random_floats(static_cast<std::size_t>(tk * ldv), 4);
        for (const Kernel kernel : kernels()) {
          std::vector<float> out(static_cast<std::size_t>(tq * ldo), kSentinel);
          weighted_sum(p.data(), ldp, v.data(), ldv, tq, tk, dh, out.data(), ldo, kernel);
          const std::string where = case_name(kernel, dh, tk, tq);
          for (int64_t i = 0; i < tq; ++i) {
            for (int64_t d = 0; d < dh; ++d) {
              double exact = 0.0;
              const float acc = fma_chain(&p[i * ldp], 1, &v[d], ldv, tk, &exact);
              const float got = out[i * ldo + d];
              ASSERT_TRUE(same_bits(got, acc)) << where << " at " << i << "," << d << ": " << got
                                               << " vs " << acc;
              ASSERT_NEAR(got, exact, 1e-5 * (1.0 + std::abs(exact))) << where;
            }
            for (int64_t d = dh; d < ldo; ++d) ASSERT_EQ(out[i * ldo + d], kSentinel) << where;
          }
        }
      }
    }
  }
}

// The backward's products: products() is scores() with scale 1 and 0 in the padding; the
// transposed weighted sum weighs v's rows by p's columns, each output one chain of fused
// multiply-adds in the rows' order.
TEST(HeadProducts, BackwardProductsAreFmaChainsInOrder) {
  if (kernels().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const int64_t dh : {8, 16, 24, 64}) {
    for (const int64_t tk : {1, 9, 17, 50, 65}) {
      for (const int64_t tq : {1, 5, 50}) {
        const int64_t ld = 3 * dh + 1, lds = padded_keys(tk) + 1, ldo = dh + 5;
        const auto q = random_floats(static_cast<std::size_t>(tq * ld), 8);
        const auto k = random_floats(static_cast<std::size_t>(tk * ld), 9);
        const auto p = random_floats(static_cast<std::size_t>(tq * lds), 10);
        for (const Kernel kernel : kernels()) {
          const std::string where = case_name(kernel, dh, tk, tq);
          std::vector<float> s(static_cast<std::size_t>(tq * lds), kSentinel);
          std::vector<float> scratch(static_cast<std::size_t>(scratch_floats(tk, dh)));
          products(q.data(), ld, k.data(), ld, tq, tk, dh, s.data(), lds, scratch.data(), kernel);
          for (int64_t i = 0; i < tq; ++i) {
            for (int64_t j = 0; j < tk; ++j) {
              double exact = 0.0;
              const float acc = fma_chain(&q[i * ld], 1, &k[j * ld], 1, dh, &exact);
              ASSERT_TRUE(same_bits(s[i * lds + j], acc)) << where << " at " << i << "," << j;
            }
            for (int64_t j = tk; j < padded_keys(tk); ++j) ASSERT_EQ(s[i * lds + j], 0.0f);
            ASSERT_EQ(s[i * lds + padded_keys(tk)], kSentinel) << where;
          }
          // out [tk, dh]: row j = sum over i < tq of p[i][j] times q's row i.
          std::vector<float> out(static_cast<std::size_t>(tk * ldo), kSentinel);
          transposed_weighted_sum(p.data(), lds, q.data(), ld, tq, tk, dh, out.data(), ldo,
                                  kernel);
          for (int64_t j = 0; j < tk; ++j) {
            for (int64_t d = 0; d < dh; ++d) {
              double exact = 0.0;
              const float acc = fma_chain(&p[j], lds, &q[d], ld, tq, &exact);
              ASSERT_TRUE(same_bits(out[j * ldo + d], acc)) << where << " at " << j << "," << d;
              ASSERT_NEAR(out[j * ldo + d], exact, 1e-5 * (1.0 + std::abs(exact))) << where;
            }
            for (int64_t d = dh; d < ldo; ++d) ASSERT_EQ(out[j * ldo + d], kSentinel) << where;
          }
        }
      }
    }
  }
}

// By hand: q = (1, 2), keys (1, 0) and (0, 1) -> scores (1, 2) * scale, then the padding; and
// weights (0.25, 0.75) over values (4, 8) and (8, 0) -> (7, 2)... in 8 dims.
TEST(HeadProducts, ByHand) {
  if (kernels().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const Kernel kernel : kernels()) {
    std::vector<float> q(8, 0.0f), k(16, 0.0f);
    q[0] = 1.0f;
    q[1] = 2.0f;
    k[0] = 1.0f;      // key 0 = e0
    k[8 + 1] = 1.0f;  // key 1 = e1
    std::vector<float> s(8, kSentinel), scratch(static_cast<std::size_t>(scratch_floats(2, 8)));
    scores(q.data(), 8, k.data(), 8, 1, 2, 8, 0.5f, s.data(), 8, scratch.data(), kernel);
    EXPECT_EQ(s[0], 0.5f);
    EXPECT_EQ(s[1], 1.0f);
    for (int j = 2; j < 8; ++j) EXPECT_EQ(s[j], kNegInf) << j;

    const std::vector<float> p{0.25f, 0.75f};
    std::vector<float> v(16, 0.0f), out(8, kSentinel);
    v[0] = 4.0f;
    v[1] = 8.0f;
    v[8] = 8.0f;
    weighted_sum(p.data(), 2, v.data(), 8, 1, 2, 8, out.data(), 8, kernel);
    EXPECT_EQ(out[0], 7.0f);  // 0.25 * 4 + 0.75 * 8
    EXPECT_EQ(out[1], 2.0f);  // 0.25 * 8 + 0.75 * 0
    for (int d = 2; d < 8; ++d) EXPECT_EQ(out[d], 0.0f) << d;
  }
}

// What cpu_attention relies on: the softmax of a row padded with -inf to padded_keys(tk) gives
// the unpadded row's softmax bit for bit, and 0 in the padding, on every kernel.
TEST(HeadProducts, SoftmaxOverThePaddedRowIsTheRowsSoftmax) {
  std::vector<Kernel> all{Kernel::Scalar};
  for (const Kernel k : kernels()) all.push_back(k);
  for (const int64_t tk : {1, 3, 8, 9, 17, 50, 63}) {
    const int64_t padded = padded_keys(tk);
    const auto x = random_floats(static_cast<std::size_t>(4 * tk), 5);
    for (const Kernel kernel : all) {
      std::vector<float> plain(x);
      std::vector<float> pad(static_cast<std::size_t>(4 * padded), kNegInf);
      for (int64_t r = 0; r < 4; ++r) {
        std::copy(x.begin() + r * tk, x.begin() + (r + 1) * tk, pad.begin() + r * padded);
      }
      rows::softmax(plain.data(), 4, tk, tk, kernel);
      rows::softmax(pad.data(), 4, padded, padded, kernel);
      for (int64_t r = 0; r < 4; ++r) {
        for (int64_t j = 0; j < tk; ++j) {
          ASSERT_TRUE(same_bits(pad[r * padded + j], plain[r * tk + j]))
              << rows::kernel_name(kernel) << " tk " << tk << " at " << r << "," << j;
        }
        for (int64_t j = tk; j < padded; ++j) ASSERT_EQ(pad[r * padded + j], 0.0f);
      }
    }
  }
}

// softmax_scores gives what scores() then rows::softmax give, bit for bit, on every kernel,
// for rows that fit in registers (up to 64 keys) and longer ones.
TEST(HeadProducts, SoftmaxScoresIsScoresThenTheRowSoftmax) {
  if (kernels().empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const int64_t dh : {8, 16, 24, 64}) {
    for (const int64_t tk : {1, 2, 7, 8, 9, 16, 17, 31, 33, 48, 50, 63, 64, 65, 97}) {
      for (const int64_t tq : {1, 4, 7, 50}) {
        const int64_t ldq = 3 * dh, ldk = 3 * dh, lds = padded_keys(tk) + 3;
        auto q = random_floats(static_cast<std::size_t>(tq * ldq), 6);
        const auto k = random_floats(static_cast<std::size_t>(tk * ldk), 7);
        q[0] = 30.0f;  // a large score: the max matters
        for (const Kernel kernel : kernels()) {
          std::vector<float> two(static_cast<std::size_t>(tq * lds), kSentinel);
          std::vector<float> one(two);
          std::vector<float> scratch(static_cast<std::size_t>(scratch_floats(tk, dh)));
          scores(q.data(), ldq, k.data(), ldk, tq, tk, dh, 0.3f, two.data(), lds,
                 scratch.data(), kernel);
          rows::softmax(two.data(), tq, padded_keys(tk), lds, kernel);
          softmax_scores(q.data(), ldq, k.data(), ldk, tq, tk, dh, 0.3f, one.data(), lds,
                         scratch.data(), kernel);
          for (std::size_t i = 0; i < one.size(); ++i) {
            ASSERT_TRUE(same_bits(one[i], two[i]))
                << case_name(kernel, dh, tk, tq) << " at " << i / lds << "," << i % lds << ": "
                << one[i] << " vs " << two[i];
          }
          for (int64_t i = 0; i < tq; ++i) {  // a softmax: sums to 1
            double sum = 0.0;
            for (int64_t j = 0; j < tk; ++j) sum += one[i * lds + j];
            ASSERT_NEAR(sum, 1.0, 1e-5);
          }
        }
      }
    }
  }
}

TEST(HeadProducts, AppliesToMultiplesOfEightWithVectorKernelsOnly) {
  EXPECT_EQ(padded_keys(1), 8);
  EXPECT_EQ(padded_keys(8), 8);
  EXPECT_EQ(padded_keys(50), 56);
  EXPECT_EQ(scratch_floats(50, 16), 64 * 16);
  EXPECT_FALSE(applies(16, Kernel::Scalar));
  EXPECT_FALSE(applies(12, Kernel::Avx2));
  EXPECT_FALSE(applies(0, Kernel::Avx2));
  EXPECT_EQ(applies(16, Kernel::Avx2), rows::best_kernel() >= Kernel::Avx2);
  float x = 0.0f;
  EXPECT_THROW(scores(&x, 1, &x, 1, 1, 1, 12, 1.0f, &x, 8, &x, Kernel::Avx2), std::logic_error);
  EXPECT_THROW(weighted_sum(&x, 1, &x, 1, 1, 1, 16, &x, 16, Kernel::Scalar), std::logic_error);
  EXPECT_THROW(products(&x, 1, &x, 1, 1, 1, 4, &x, 8, &x, Kernel::Avx2), std::logic_error);
  EXPECT_THROW(transposed_weighted_sum(&x, 1, &x, 1, 1, 1, 16, &x, 16, Kernel::Scalar),
               std::logic_error);
}

}  // namespace
}  // namespace moedil::model::heads
