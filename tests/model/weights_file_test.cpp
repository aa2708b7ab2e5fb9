#include "moedil/model/weights_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>
#include <torch/serialize/output-archive.h>

#include "moedil/common/error.h"

namespace moedil::model {
namespace {

namespace fs = std::filesystem;

struct NetImpl : torch::nn::Module {
  NetImpl(int64_t in, int64_t out, bool extra) {
    fc = register_module("fc", torch::nn::Linear(in, out));
    head = register_module("head", torch::nn::Linear(out, 2));
    scale = register_buffer("scale", at::full({out}, 3.0));
    if (extra) bonus = register_parameter("bonus", at::ones({4}));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::Linear head{nullptr};
  at::Tensor scale;
  at::Tensor bonus;
};
TORCH_MODULE(Net);

class WeightsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moedil_weights_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(WeightsFileTest, ModuleSavedByLibTorchLoadsIntoAFreshModel) {
  Net saved(3, 5, false);
  {
    torch::NoGradGuard no_grad;
    saved->scale.fill_(7.0);
  }
  torch::save(saved, path("net.pt"));
  const NamedTensors weights = read_weights_file(path("net.pt"));
  EXPECT_EQ(weights.size(), 5u);  // fc.weight, fc.bias, head.weight, head.bias, scale
  ASSERT_TRUE(weights.count("fc.weight"));
  Net fresh(3, 5, false);
  EXPECT_FALSE(at::equal(fresh->fc->weight, saved->fc->weight));
  const WeightsMatch match = load_named_tensors(*fresh, weights, "net.pt");
  EXPECT_EQ(match.matched.size(), 5u);
  EXPECT_TRUE(match.missing.empty() && match.unexpected.empty() && match.mismatched.empty());
  EXPECT_TRUE(at::equal(fresh->fc->weight, saved->fc->weight));
  EXPECT_TRUE(at::equal(fresh->scale, at::full({5}, 7.0)));
}

TEST_F(WeightsFileTest, MismatchedFileIsReportedNameByName) {
  Net saved(3, 5, false);
  torch::save(saved, path("net.pt"));
  // fc takes 4 inputs instead of 3 (fc.weight has another shape); bonus is not in the file.
  Net other(4, 5, true);
  const at::Tensor before = other->fc->weight.clone();
  const WeightsMatch match = load_named_tensors(*other, read_weights_file(path("net.pt")), "net.pt");
  EXPECT_EQ(match.mismatched, std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(match.missing, std::vector<std::string>{"bonus"});
  EXPECT_TRUE(match.unexpected.empty());
  EXPECT_EQ(match.matched.size(), 4u);
  EXPECT_TRUE(at::equal(other->fc->weight, before));  // left as initialised
  EXPECT_TRUE(at::equal(other->fc->bias, saved->fc->bias));
  const std::string line = describe(match);
  EXPECT_NE(line.find("matched 4 of 6"), std::string::npos) << line;
  EXPECT_NE(line.find("missing 1 (bonus)"), std::string::npos) << line;
  EXPECT_NE(line.find("shape mismatch 1 (fc.weight)"), std::string::npos) << line;

  // Saved with the extra parameter, loaded without: unexpected.
  Net with_extra(3, 5, true);
  torch::save(with_extra, path("extra.pt"));
  Net plain(3, 5, false);
  const WeightsMatch m2 = load_named_tensors(*plain, read_weights_file(path("extra.pt")), "extra.pt");
  EXPECT_EQ(m2.unexpected, std::vector<std::string>{"bonus"});
}

TEST_F(WeightsFileTest, PickledStateDictLikeTorchSaveLoads) {
  // torch.save(model.state_dict()) writes a pickled dict of name -> tensor, which is what
  // torch::pickle_save writes for a GenericDict.
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  dict.insert("fc.weight", at::full({5, 3}, 0.5));
  dict.insert("fc.bias", at::full({5}, -1.0));
  dict.insert("not_in_model", at::zeros({2}));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream(path("state_dict.pt"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  Net net(3, 5, false);
  const WeightsMatch match = load_named_tensors(*net, read_weights_file(path("state_dict.pt")), "sd");
  EXPECT_EQ(match.matched, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  EXPECT_EQ(match.unexpected, std::vector<std::string>{"not_in_model"});
  EXPECT_TRUE(at::equal(net->fc->weight, at::full({5, 3}, 0.5)));
}

TEST_F(WeightsFileTest, CheckpointModelPartIsUsed) {
  Net saved(3, 5, false);
  torch::serialize::OutputArchive model;
  saved->save(model);
  torch::serialize::OutputArchive checkpoint;
  checkpoint.write("model", model);
  checkpoint.write("optimizer_like", at::ones({9}));
  checkpoint.save_to(path("checkpoint.pt"));
  const NamedTensors weights = read_weights_file(path("checkpoint.pt"));
  EXPECT_EQ(weights.size(), 5u);
  EXPECT_FALSE(weights.count("optimizer_like"));
}

TEST_F(WeightsFileTest, MissingGarbageOrUnmatchedFilesAreDataErrors) {
  try {
    read_weights_file(path("absent.pt"));
    FAIL() << "absent file accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.pt' does not exist"), std::string::npos) << e.what();
  }
  // A FIFO would block the read forever: refused at once, naming it.
  ASSERT_EQ(::mkfifo(path("fifo.pt").c_str(), 0644), 0);
  try {
    read_weights_file(path("fifo.pt"));
    FAIL() << "a FIFO was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("model.init_weights: " + path("fifo.pt") + ": is a FIFO"),
              std::string::npos)
        << e.what();
  }
  std::ofstream(path("garbage.pt")) << "not a tensor file";
  EXPECT_THROW(read_weights_file(path("garbage.pt")), DataError);
  Net net(3, 5, false);
  try {
    load_named_tensors(*net, {{"other.weight", at::ones({2})}}, "x.pt");
    FAIL() << "a file matching nothing was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor of 'x.pt' matches"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::model
