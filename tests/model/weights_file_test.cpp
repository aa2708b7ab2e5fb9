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
#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

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

config::ModelConfig tiny_vit(const std::string& name) {
  config::ModelConfig c;
  c.name = name;
  c.patch_size = 4;
  c.embed_dim = 8;
  c.depth = 4;
  c.num_heads = 2;
  c.mlp_ratio = 2.0;
  c.moe_layer_indices = {1, 3};
  c.moe_num_unshared_experts = 3;
  c.moe_num_shared_experts = 1;
  c.expert_depth = 2;
  return c;
}

// Every "A <- B" of the report: the model's A equals the file's B.
void expect_upcycled_copies(torch::nn::Module& module, const WeightsMatch& match,
                            const NamedTensors& weights) {
  for (const std::string& entry : match.upcycled) {
    const std::size_t arrow = entry.find(" <- ");
    ASSERT_NE(arrow, std::string::npos) << entry;
    const std::string to = entry.substr(0, arrow);
    const std::string from = entry.substr(arrow + 4);
    ASSERT_TRUE(weights.count(from)) << entry;
    EXPECT_TRUE(at::equal(named_tensors(module).at(to), weights.at(from))) << entry;
  }
}

// vit_moe from a dense ViT: every routed and shared expert of blocks 1 and 3 is that block's
// MLP, tensor for tensor; the routers stay fresh; nothing of the file is left unused.
TEST(Upcycling, VitMoeExpertsStartAsThePretrainedMlp) {
  const InputShape in{3, 8, 8, 5};
  torch::manual_seed(1);
  Classifier dense = make_model(tiny_vit("vit"), in);
  const NamedTensors weights = named_tensors(*dense);
  torch::manual_seed(2);
  Classifier moe = make_model(tiny_vit("vit_moe"), in);
  const WeightsMatch match = load_named_tensors(*moe, weights, "dense.pt");
  // 2 MoE blocks x 4 experts x fc1/fc2 weight and bias.
  EXPECT_EQ(match.upcycled.size(), 2u * 4u * 4u) << describe(match);
  for (const char* block : {"1", "3"}) {
    for (const char* expert : {"moe.experts.0", "moe.experts.2", "moe.shared_experts.0"}) {
      for (const char* tensor : {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
        const std::string to = std::string("blocks.") + block + "." + expert + "." + tensor;
        const std::string from = std::string("blocks.") + block + ".mlp." + tensor;
        EXPECT_TRUE(at::equal(named_tensors(*moe).at(to), weights.at(from))) << to;
      }
    }
  }
  expect_upcycled_copies(*moe, match, weights);
  EXPECT_TRUE(at::equal(named_tensors(*moe).at("blocks.1.attn.qkv.weight"),
                        weights.at("blocks.1.attn.qkv.weight")));
  for (const std::string& name : match.missing) {
    EXPECT_NE(name.find(".router."), std::string::npos) << name;
  }
  EXPECT_EQ(match.missing.size(), 4u);  // each MoE layer's router gate weight and bias
  EXPECT_TRUE(match.unexpected.empty()) << describe(match);
  EXPECT_NE(describe(match).find("upcycled 32 (blocks.1.moe.experts.0.fc1.bias <- "
                                 "blocks.1.mlp.fc1.bias"),
            std::string::npos)
      << describe(match);
  // upcycle_noise: each copy gets noise of that fraction of the copied tensor's std.
  torch::manual_seed(3);
  Classifier noisy = make_model(tiny_vit("vit_moe"), in);
  load_named_tensors(*noisy, weights, "dense.pt", UpcycleOptions{0.1});
  const at::Tensor source = weights.at("blocks.1.mlp.fc1.weight");
  const at::Tensor a = named_tensors(*noisy).at("blocks.1.moe.experts.0.fc1.weight");
  const at::Tensor b = named_tensors(*noisy).at("blocks.1.moe.experts.1.fc1.weight");
  EXPECT_FALSE(at::equal(a, b));
  const double ratio = ((a - source).std() / source.std()).item<double>();
  EXPECT_GT(ratio, 0.05);
  EXPECT_LT(ratio, 0.2);
  EXPECT_TRUE(at::equal(named_tensors(*noisy).at("blocks.1.norm1.weight"),
                        weights.at("blocks.1.norm1.weight")));  // only experts get noise
}

// switch_moe_vit from a dense ViT of the same depth: the shared lower blocks are the file's,
// each expert tower is a copy of its upper blocks, final norm and head.
TEST(Upcycling, SwitchExpertTowersStartAsTheUpperBlocks) {
  const InputShape in{3, 8, 8, 5};
  torch::manual_seed(1);
  Classifier dense = make_model(tiny_vit("vit"), in);
  const NamedTensors weights = named_tensors(*dense);
  config::ModelConfig sc = tiny_vit("switch_moe_vit");
  sc.moe_num_unshared_experts = 2;
  Classifier sw = make_model(sc, in);
  const WeightsMatch match = load_named_tensors(*sw, weights, "dense.pt");
  expect_upcycled_copies(*sw, match, weights);
  for (const char* e : {"0", "1"}) {
    const std::string tower = std::string("experts.") + e + ".";
    EXPECT_TRUE(at::equal(named_tensors(*sw).at(tower + "blocks.0.mlp.fc2.weight"),
                          weights.at("blocks.2.mlp.fc2.weight")));
    EXPECT_TRUE(at::equal(named_tensors(*sw).at(tower + "blocks.1.attn.qkv.bias"),
                          weights.at("blocks.3.attn.qkv.bias")));
    EXPECT_TRUE(at::equal(named_tensors(*sw).at(tower + "norm.weight"), weights.at("norm.weight")));
    EXPECT_TRUE(at::equal(named_tensors(*sw).at(tower + "head.weight"), weights.at("head.weight")));
  }
  EXPECT_TRUE(at::equal(named_tensors(*sw).at("blocks.1.mlp.fc1.weight"),
                        weights.at("blocks.1.mlp.fc1.weight")));
  EXPECT_TRUE(match.mismatched.empty()) << describe(match);
  EXPECT_TRUE(match.unexpected.empty()) << describe(match);
  // A file whose head has another class count: each tower's head is replaced, and said so.
  Classifier other = make_model(sc, InputShape{3, 8, 8, 7});
  const WeightsMatch replaced = load_named_tensors(*other, weights, "dense.pt");
  ASSERT_EQ(replaced.replaced_heads.size(), 2u) << describe(replaced);
  EXPECT_EQ(replaced.replaced_heads[0], "experts.0.head: 5 classes in the file, 7 in the model");
}

// The CNN MoE layers: each expert conv (resnet18_conv_moe) or block (resnet18_block_moe) of
// the MoE stage starts as the dense ResNet's conv or block there.
TEST(Upcycling, CnnMoeExpertsStartAsThePretrainedConvsAndBlocks) {
  const InputShape in{3, 16, 16, 5};
  config::ModelConfig c;
  c.resnet_width = 4;
  c.name = "resnet18";
  torch::manual_seed(1);
  Classifier dense = make_model(c, in);
  const NamedTensors weights = named_tensors(*dense);
  for (const char* family : {"resnet18_conv_moe", "resnet18_block_moe"}) {
    SCOPED_TRACE(family);
    c.name = family;
    c.moe_num_unshared_experts = 2;
    Classifier moe = make_model(c, in);
    const WeightsMatch match = load_named_tensors(*moe, weights, "resnet18.pt");
    EXPECT_GT(match.upcycled.size(), 0u);
    expect_upcycled_copies(*moe, match, weights);
    for (const std::string& name : match.missing) {
      EXPECT_NE(name.find("router."), std::string::npos) << name;
    }
    EXPECT_TRUE(match.mismatched.empty()) << describe(match);
    EXPECT_TRUE(match.unexpected.empty()) << describe(match);
  }
}

TEST(Upcycling, AHeadOfAnotherClassCountIsReplacedAndListed) {
  torch::manual_seed(1);
  Classifier dense = make_model(tiny_vit("vit"), InputShape{3, 8, 8, 1000});
  Classifier mine = make_model(tiny_vit("vit"), InputShape{3, 8, 8, 10});
  const WeightsMatch match = load_named_tensors(*mine, named_tensors(*dense), "in1k.pt");
  ASSERT_EQ(match.replaced_heads.size(), 1u);
  EXPECT_EQ(match.replaced_heads[0], "head: 1000 classes in the file, 10 in the model");
  EXPECT_EQ(match.mismatched, (std::vector<std::string>{"head.bias", "head.weight"}));
}

TEST(Upcycling, FreezeBackboneLeavesHeadsRoutersAndExpertsTraining) {
  Classifier moe = make_model(tiny_vit("vit_moe"), InputShape{3, 8, 8, 5});
  const std::size_t frozen = freeze_backbone(*moe);
  std::size_t training = 0;
  for (const auto& item : moe->named_parameters()) {
    const std::string& name = item.key();
    const bool trains = name.rfind("head.", 0) == 0 || name.find(".router.") != std::string::npos ||
                        name.find("experts.") != std::string::npos;
    EXPECT_EQ(item.value().requires_grad(), trains) << name;
    training += trains ? 1 : 0;
  }
  EXPECT_EQ(frozen + training, moe->named_parameters().size());
  EXPECT_GT(frozen, 0u);
}

}  // namespace
}  // namespace moedil::model
