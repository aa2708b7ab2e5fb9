#include "moedil/model/part_sums.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <vector>

namespace moedil::model {
namespace {

TEST(PartSums, RowParts) {
  EXPECT_EQ(row_parts(0, 512, 8), 1);
  EXPECT_EQ(row_parts(511, 512, 8), 1);
  EXPECT_EQ(row_parts(1024, 512, 8), 2);
  EXPECT_EQ(row_parts(3200, 512, 8), 6);
  EXPECT_EQ(row_parts(1000000, 512, 8), 8);
  EXPECT_EQ(row_parts(7, 0, 0), 1);  // nonsense limits: one part
}

// In part order: (1e8 + 1) - 1e8 rounds to 0 in float; any other order of the three parts
// would give 1 or 2.
TEST(PartSums, AddedInPartOrder) {
  const at::Tensor partial =
      at::tensor(std::vector<float>{1e8f, 2.f, 1.f, 3.f, -1e8f, 4.f}).view({3, 1, 2});
  const at::Tensor total = add_parts(partial);
  EXPECT_EQ(total.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(total[0][0].item<float>(), 0.f);
  EXPECT_EQ(total[0][1].item<float>(), 9.f);
  EXPECT_EQ(partial[0][0][0].item<float>(), 1e8f);  // the partials stay as they were
}

TEST(PartSums, OnePartIsItself) {
  const at::Tensor partial = at::arange(6, at::kFloat).view({1, 2, 3});
  const at::Tensor total = add_parts(partial);
  EXPECT_TRUE(at::equal(total, partial[0]));
  EXPECT_EQ(total.data_ptr<float>(), partial.data_ptr<float>());
}

}  // namespace
}  // namespace moedil::model
