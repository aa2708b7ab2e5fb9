#include "moedil/model/linear_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "float_data.h"

namespace moedil::model::linear_kernel {
namespace {

using rows::Kernel;
using testing::random_floats;
using testing::same_bits;

const float kSentinel = 12345.0f;

TEST(LinearKernel, AppliesToAvx512AndWholeVectorsOfOutputs) {
#if defined(__x86_64__)
  EXPECT_TRUE(applies(64, 192, Kernel::Avx512));
  EXPECT_TRUE(applies(1, 16, Kernel::Avx512));
  EXPECT_TRUE(applies(1536, 400, Kernel::Avx512));
#endif
  EXPECT_FALSE(applies(64, 40, Kernel::Avx512));   // 40 is not a multiple of 16
  EXPECT_FALSE(applies(64, 10, Kernel::Avx512));
  EXPECT_FALSE(applies(0, 64, Kernel::Avx512));
  EXPECT_FALSE(applies(64, 0, Kernel::Avx512));
  EXPECT_FALSE(applies(64, 64, Kernel::Avx2));     // OpenBLAS's AVX2 kernels are faster
  EXPECT_FALSE(applies(64, 64, Kernel::Scalar));
}

TEST(LinearKernel, PackIsTheTransposeInPanelsOf64Outputs) {
  // 80 outputs: one panel of 64, one of 16; 3 inputs.
  const int64_t in = 3;
  const int64_t out = 80;
  std::vector<float> w(static_cast<std::size_t>(in * out));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t k = 0; k < in; ++k) w[o * in + k] = static_cast<float>(1000 * o + k);
  }
  ASSERT_EQ(packed_floats(in, out), in * out);
  std::vector<float> packed(static_cast<std::size_t>(packed_floats(in, out)), kSentinel);
  pack(w.data(), in, out, packed.data());
  // Panel 0: [k][64], outputs 0-63.
  EXPECT_EQ(packed[0 * 64 + 0], 0.0f);      // W[0][0]
  EXPECT_EQ(packed[0 * 64 + 5], 5000.0f);   // W[5][0]
  EXPECT_EQ(packed[2 * 64 + 63], 63002.0f); // W[63][2]
  // Panel 1 starts at 64 * in: [k][16], outputs 64-79.
  const float* p1 = packed.data() + 64 * in;
  EXPECT_EQ(p1[0 * 16 + 0], 64000.0f);      // W[64][0]
  EXPECT_EQ(p1[1 * 16 + 15], 79001.0f);     // W[79][1]
  EXPECT_EQ(p1[2 * 16 + 3], 67002.0f);      // W[67][2]
  for (float v : packed) EXPECT_NE(v, kSentinel);
}

// Rows around the 6-row tile, inner sizes from 1 to past OpenBLAS's block, outputs of 1-4
// vectors and past one panel, strides wider than the rows, with and without a bias: every
// output is the chain of std::fma over k in order from 0 plus the bias (bit for bit), within
// float rounding of double precision, and nothing past the outputs is written.
TEST(LinearKernel, ForwardIsTheFmaChainOverInputsThenTheBias) {
  if (rows::best_kernel() < Kernel::Avx512) GTEST_SKIP() << "this CPU has no AVX-512";
  int checked = 0;
  for (const int64_t in : {1, 16, 64, 77, 128, 400}) {
    for (const int64_t out : {16, 48, 64, 80, 192}) {
      for (const int64_t rows : {1, 5, 6, 7, 13}) {
        for (const bool with_bias : {true, false}) {
          const std::string name = "in " + std::to_string(in) + " out " + std::to_string(out) +
                                   " rows " + std::to_string(rows) +
                                   (with_bias ? " bias" : " no bias");
          const int64_t ldx = in + 3;
          const int64_t ldy = out + 5;
          const auto x = random_floats(static_cast<std::size_t>(rows * ldx), 1);
          const auto w = random_floats(static_cast<std::size_t>(in * out), 2);
          const auto b = random_floats(static_cast<std::size_t>(out), 3);
          std::vector<float> packed(static_cast<std::size_t>(packed_floats(in, out)));
          pack(w.data(), in, out, packed.data());
          std::vector<float> y(static_cast<std::size_t>(rows * ldy), kSentinel);
          forward(x.data(), ldx, rows, in, packed.data(), with_bias ? b.data() : nullptr, out,
                  y.data(), ldy, Kernel::Avx512);
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t o = 0; o < out; ++o) {
              float acc = 0.0f;
              double exact = with_bias ? b[o] : 0.0;
              double magnitude = with_bias ? std::fabs(b[o]) : 0.0;
              for (int64_t k = 0; k < in; ++k) {
                acc = std::fma(x[r * ldx + k], w[o * in + k], acc);
                exact += double(x[r * ldx + k]) * double(w[o * in + k]);
                magnitude += std::fabs(double(x[r * ldx + k]) * double(w[o * in + k]));
              }
              const float want = with_bias ? acc + b[o] : acc;
              const float got = y[r * ldy + o];
              ASSERT_TRUE(same_bits(got, want)) << name << " y[" << r << "][" << o << "] " << got
                                                << " vs the fma chain's " << want;
              ASSERT_NEAR(got, exact, 1e-6 * (1.0 + in) * magnitude) << name;
              ++checked;
            }
            for (int64_t o = out; o < ldy; ++o) {
              ASSERT_EQ(y[r * ldy + o], kSentinel) << name << ": wrote past the outputs";
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// With a residual (rows ldr apart): the output plus the residual, rounded after the bias as
// adding it afterwards would: fl(fl(chain + b) + residual).
TEST(LinearKernel, ForwardAddsTheResidualAfterTheBias) {
  if (rows::best_kernel() < Kernel::Avx512) GTEST_SKIP() << "this CPU has no AVX-512";
  for (const int64_t rows : {1, 6, 11}) {
    const int64_t in = 64, out = 80, ldr = out + 7;
    const auto x = random_floats(static_cast<std::size_t>(rows * in), 4);
    const auto w = random_floats(static_cast<std::size_t>(in * out), 5);
    const auto b = random_floats(static_cast<std::size_t>(out), 6);
    const auto res = random_floats(static_cast<std::size_t>(rows * ldr), 7);
    std::vector<float> packed(static_cast<std::size_t>(packed_floats(in, out)));
    pack(w.data(), in, out, packed.data());
    std::vector<float> plain(static_cast<std::size_t>(rows * out));
    std::vector<float> with(static_cast<std::size_t>(rows * out));
    forward(x.data(), in, rows, in, packed.data(), b.data(), out, plain.data(), out,
            Kernel::Avx512);
    forward(x.data(), in, rows, in, packed.data(), b.data(), out, with.data(), out,
            Kernel::Avx512, res.data(), ldr);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) {
        const float want = plain[r * out + o] + res[r * ldr + o];
        ASSERT_TRUE(same_bits(with[r * out + o], want))
            << "rows " << rows << " y[" << r << "][" << o << "]";
      }
    }
  }
}

TEST(LinearKernel, ForwardRefusesWhereItDoesNotApply) {
  std::vector<float> x(64, 1.0f), packed(64 * 64, 1.0f), y(64 * 64);
  try {
    forward(x.data(), 64, 1, 64, packed.data(), nullptr, 64, y.data(), 64, Kernel::Avx2);
    FAIL() << "forward ran on AVX2";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("64 -> 64 on avx2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("applies"), std::string::npos) << e.what();
  }
  EXPECT_THROW(forward(x.data(), 64, 1, 64, packed.data(), nullptr, 40, y.data(), 64,
                       Kernel::Avx512),
               std::logic_error);
}

}  // namespace
}  // namespace moedil::model::linear_kernel
