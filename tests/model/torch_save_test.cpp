// Python's torch.save files, written by Debian's python3-torch (the test is skipped where it is
// missing; scripts/packages.txt installs it): state dicts as users have them.
#include "moedil/model/torch_save.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/normalization.h>

#include "moedil/common/error.h"
#include "moedil/model/weights_file.h"

namespace moedil::model {
namespace {

namespace fs = std::filesystem;

/// Debian's interpreter (the one python3-torch installs into), not whatever python3 is first
/// on PATH.
constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torch() {
  static const bool has = std::system((std::string(kPython) +
                                       " -c 'import torch' > /dev/null 2>&1").c_str()) == 0;
  return has;
}

class TorchSaveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!python_has_torch()) {
      GTEST_SKIP() << kPython << " has no torch module (install python3-torch)";
    }
    dir_ = fs::temp_directory_path() / ("moedil_torch_save_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  /// Runs `body` in Python with torch imported and `out` the path of the file to write.
  std::string save(const std::string& name, const std::string& body) {
    const fs::path script = dir_ / (name + ".py");
    const fs::path out = dir_ / (name + ".pt");
    std::ofstream(script) << "import collections, torch\nout = " << "'" << out.string() << "'\n"
                          << body << "\n";
    const std::string command = std::string(kPython) + " " + script.string();
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return out.string();
  }
  static std::string bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::map<std::string, at::Tensor> read(const std::string& path) {
    const auto out = read_torch_save(bytes_of(path), path);
    EXPECT_TRUE(out.has_value()) << path;
    return out.value_or(std::map<std::string, at::Tensor>{});
  }
  fs::path dir_;
};

// model.state_dict() is an OrderedDict with a _metadata attribute: every tensor with its name,
// dtype, shape and values.
TEST_F(TorchSaveTest, AModulesStateDictReadsWithItsNamesAndValues) {
  const std::string path = save("sequential", R"(
m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
with torch.no_grad():
    m[0].weight.copy_(torch.arange(6.0).reshape(2, 3) / 2)
    m[0].bias.fill_(-1.5)
    m[1].weight.fill_(0.25)
sd = m.state_dict()
assert isinstance(sd, collections.OrderedDict) and hasattr(sd, '_metadata')
torch.save(sd, out))");
  const auto t = read(path);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_TRUE(at::equal(t.at("0.weight"), at::arange(6.0, at::kFloat).reshape({2, 3}) / 2));
  EXPECT_TRUE(at::equal(t.at("0.bias"), at::full({2}, -1.5, at::kFloat)));
  EXPECT_TRUE(at::equal(t.at("1.weight"), at::full({2}, 0.25, at::kFloat)));
  EXPECT_TRUE(at::equal(t.at("1.bias"), at::zeros({2}, at::kFloat)));
}

// A dict of one entry (pickle's SETITEM), views with strides and offsets into a shared
// storage, and the dtypes state dicts hold.
TEST_F(TorchSaveTest, OneEntryDictsViewsAndDtypesRead) {
  const auto one = read(save("one", "torch.save({'w': torch.tensor([1.0, 2.0])}, out)"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(at::equal(one.at("w"), at::tensor({1.0f, 2.0f})));
  const auto views = read(save("views", R"(
x = torch.arange(6.0)
torch.save({'t': x.reshape(2, 3).t(), 'tail': x[4:], 'x': x,
            'h': torch.tensor([0.5, -2.0], dtype=torch.float16),
            'bf': torch.tensor([3.0], dtype=torch.bfloat16),
            'l': torch.tensor([2**40, -7]), 'b': torch.tensor([True, False]),
            'empty': torch.zeros(0, 4), 'n': 7, 's': 'text'}, out))"));
  EXPECT_TRUE(at::equal(views.at("t"),
                        at::tensor({0.0f, 3.0f, 1.0f, 4.0f, 2.0f, 5.0f}).reshape({3, 2})));
  EXPECT_TRUE(at::equal(views.at("tail"), at::tensor({4.0f, 5.0f})));
  EXPECT_TRUE(at::equal(views.at("x"), at::arange(6.0, at::kFloat)));
  EXPECT_EQ(views.at("h").scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(views.at("h").to(at::kFloat), at::tensor({0.5f, -2.0f})));
  EXPECT_EQ(views.at("bf").scalar_type(), at::kBFloat16);
  EXPECT_EQ(views.at("l").scalar_type(), at::kLong);
  EXPECT_EQ(views.at("l")[0].item<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(views.at("l")[1].item<int64_t>(), -7);
  EXPECT_EQ(views.at("b").scalar_type(), at::kBool);
  EXPECT_TRUE(at::equal(views.at("b").to(at::kLong), at::tensor({int64_t{1}, int64_t{0}})));
  EXPECT_EQ(views.at("empty").sizes(), (at::IntArrayRef{0, 4}));
  EXPECT_EQ(views.count("n") + views.count("s"), 0u);  // numbers and strings are no tensors
}

// A checkpoint keeps the state dict under a key, beside an argparse.Namespace it never builds:
// model.init_weights reads the state dict's own names, and a module's state dict loads into a
// LibTorch module of the same structure tensor for tensor.
TEST_F(TorchSaveTest, CheckpointsAndStateDictsLoadThroughInitWeights) {
  const std::string path = save("checkpoint", R"(
import argparse
m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
torch.save({'state_dict': m.state_dict(), 'epoch': 3,
            'args': argparse.Namespace(lr=0.1)}, out)
torch.save(m.state_dict(), out + '.plain'))");
  const NamedTensors wrapped = read_weights_file(path);
  EXPECT_EQ(wrapped.size(), 4u);
  EXPECT_TRUE(wrapped.count("0.weight")) << wrapped.begin()->first;
  const NamedTensors plain = read_weights_file(path + ".plain");
  torch::nn::Sequential net(torch::nn::Linear(3, 2),
                            torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
  const WeightsMatch match = load_named_tensors(*net, plain, path);
  EXPECT_EQ(match.matched.size(), 4u);
  EXPECT_TRUE(match.missing.empty() && match.unexpected.empty() && match.mismatched.empty());
  for (const auto& p : net->named_parameters()) {
    EXPECT_TRUE(at::equal(p.value(), plain.at(p.key()))) << p.key();
    EXPECT_TRUE(at::equal(p.value(), wrapped.at(p.key()))) << p.key();
  }
}

// The file's pickle may name any callable: it is never called. A pickle that runs os.system
// when Python loads it reads here as holding no tensors, and runs nothing.
TEST_F(TorchSaveTest, CallablesInThePickleAreNeverCalled) {
  const fs::path marker = dir_ / "ran";
  const std::string path = save("evil", R"(
import os
class Evil:
    def __reduce__(self):
        return (os.system, ('touch )" + marker.string() + R"(',))
torch.save({'w': torch.ones(2), 'evil': Evil()}, out))");
  ASSERT_FALSE(fs::exists(marker));
  const auto t = read(path);
  EXPECT_FALSE(fs::exists(marker));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(at::equal(t.at("w"), at::ones({2})));
}

// Not an archive: nullopt (another reader may know it). A broken pickle or a big-endian file
// is an error naming the file.
TEST_F(TorchSaveTest, OtherFormatsAreNotClaimedAndBrokenOnesNamed) {
  EXPECT_FALSE(read_torch_save("plain text", "x.txt").has_value());
  const std::string broken = save("broken", R"(
import zipfile
with zipfile.ZipFile(out, 'w') as z:
    z.writestr('archive/data.pkl', b'\x80\x02}q\x00\xff')
    z.writestr('archive/version', '3\n'))");
  try {
    read_torch_save(bytes_of(broken), broken);
    ADD_FAILURE() << "expected DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(broken), std::string::npos) << message;
    EXPECT_NE(message.find("pickle opcode 0xff"), std::string::npos) << message;
  }
  const std::string big = save("big", R"(
import zipfile
with zipfile.ZipFile(out, 'w') as z:
    z.writestr('archive/data.pkl', b'\x80\x02}q\x00.')
    z.writestr('archive/byteorder', 'big')
    z.writestr('archive/version', '3\n'))");
  try {
    read_torch_save(bytes_of(big), big);
    ADD_FAILURE() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("big-endian"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::model
