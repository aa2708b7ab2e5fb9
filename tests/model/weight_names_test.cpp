// torchvision's and timm's names of moedil's tensors; and a torchvision ResNet-18 state dict
// loaded into moedil's resnet18 computes torchvision's logits (Debian's python3-torchvision
// makes the reference; skipped where it is missing).
#include "moedil/model/weight_names.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"
#include "moedil/model/torch_save.h"
#include "moedil/model/weights_file.h"

namespace moedil::model {
namespace {

namespace fs = std::filesystem;

NamedTensors named(const std::set<std::string>& names) {
  NamedTensors out;
  for (const std::string& name : names) out[name] = at::zeros({1});
  return out;
}

std::set<std::string> keys(const NamedTensors& t) {
  std::set<std::string> out;
  for (const auto& item : t) out.insert(item.first);
  return out;
}

TEST(WeightNames, TorchvisionResNetShortcutsAreMoedilsShortcuts) {
  const std::set<std::string> model = {"conv1.weight", "layer2.0.shortcut_conv.weight",
                                       "layer2.0.shortcut_bn.running_mean"};
  const RenamedWeights r = to_moedil_names(
      named({"conv1.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean",
             "layer9.0.downsample.0.weight"}),
      model);
  EXPECT_EQ(r.naming, "torchvision");
  // torchvision's names are never moedil's: renamed even where the model has no such tensor
  // (an MoE model upcycles from the renamed dense tensors; the rest is reported unexpected).
  EXPECT_EQ(keys(r.weights), (std::set<std::string>{"conv1.weight", "layer2.0.shortcut_bn.running_mean",
                                                    "layer2.0.shortcut_conv.weight",
                                                    "layer9.0.shortcut_conv.weight"}));
}

// Export: moedil's names under torchvision's or timm's are the reverse of reading them.
TEST(WeightNames, ExportNamesAreTheReverseOfTheReadNames) {
  const std::set<std::string> vit = {
      "patch_embed.weight", "cls_token", "pos_embed", "blocks.0.norm1.weight",
      "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight",
      "blocks.11.mlp.fc1.weight", "blocks.11.mlp.fc2.bias", "norm.weight", "head.bias"};
  for (const char* naming : {"torchvision", "timm"}) {
    const NamedTensors out = from_moedil_names(named(vit), naming);
    EXPECT_NE(keys(out), vit) << naming;
    const RenamedWeights back = to_moedil_names(out, vit);
    EXPECT_EQ(back.naming, naming);
    EXPECT_EQ(keys(back.weights), vit) << naming;
  }
  EXPECT_TRUE(from_moedil_names(named(vit), "torchvision").count(
      "encoder.layers.encoder_layer_11.mlp.3.bias"));
  EXPECT_TRUE(from_moedil_names(named(vit), "timm").count("patch_embed.proj.weight"));
  const std::set<std::string> resnet = {"conv1.weight", "layer2.0.shortcut_conv.weight",
                                        "layer2.0.shortcut_bn.running_var", "fc.weight"};
  EXPECT_EQ(keys(from_moedil_names(named(resnet), "torchvision")),
            (std::set<std::string>{"conv1.weight", "layer2.0.downsample.0.weight",
                                   "layer2.0.downsample.1.running_var", "fc.weight"}));
  EXPECT_EQ(keys(from_moedil_names(named(resnet), "moedil")), resnet);
}

TEST(WeightNames, TimmAndTorchvisionVitNamesAreMoedils) {
  const std::set<std::string> model = {
      "patch_embed.weight", "patch_embed.bias", "cls_token", "pos_embed",
      "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.weight", "blocks.0.norm2.bias", "blocks.11.mlp.fc1.weight",
      "blocks.11.mlp.fc2.bias", "norm.weight", "head.weight"};
  const RenamedWeights timm = to_moedil_names(
      named({"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
             "blocks.0.attn.qkv.weight"}),
      model);
  EXPECT_EQ(timm.naming, "timm");
  EXPECT_EQ(keys(timm.weights), (std::set<std::string>{"patch_embed.weight", "patch_embed.bias",
                                                       "cls_token", "pos_embed",
                                                       "blocks.0.attn.qkv.weight"}));
  const RenamedWeights tv = to_moedil_names(
      named({"conv_proj.weight", "conv_proj.bias", "class_token", "encoder.pos_embedding",
             "encoder.layers.encoder_layer_0.ln_1.weight",
             "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
             "encoder.layers.encoder_layer_0.self_attention.in_proj_bias",
             "encoder.layers.encoder_layer_0.self_attention.out_proj.weight",
             "encoder.layers.encoder_layer_0.ln_2.bias",
             "encoder.layers.encoder_layer_11.mlp.0.weight",
             "encoder.layers.encoder_layer_11.mlp.linear_2.bias", "encoder.ln.weight",
             "heads.head.weight"}),
      model);
  EXPECT_EQ(tv.naming, "torchvision");
  EXPECT_EQ(keys(tv.weights), model);
  // moedil's own names stay moedil's.
  EXPECT_EQ(to_moedil_names(named(model), model).naming, "moedil");
}

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torchvision() {
  static const bool has = std::system((std::string(kPython) +
                                       " -c 'import torchvision' > /dev/null 2>&1").c_str()) == 0;
  return has;
}

/// moedil's vit shaped as the tests' torchvision VisionTransformer(patch_size=8,
/// hidden_dim=16, num_heads=2, mlp_dim=32) with `depth` blocks.
config::ModelConfig small_vit(int64_t depth) {
  config::ModelConfig c;
  c.name = "vit";
  c.patch_size = 8;
  c.embed_dim = 16;
  c.depth = depth;
  c.num_heads = 2;
  c.mlp_ratio = 2.0;
  return c;
}

/// A fresh temp directory in which `script` (Python, the directory its argv[1]) wrote the
/// reference files; removed at the end of the test.
class Reference {
 public:
  Reference(const std::string& name, const std::string& script)
      : dir_(fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "make.py") << script;
    const std::string command =
        std::string(kPython) + " " + (dir_ / "make.py").string() + " " + dir_.string();
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  ~Reference() { fs::remove_all(dir_); }
  std::string path(const std::string& file) const { return (dir_ / file).string(); }
  /// The tensors of a torch.save file it wrote.
  std::map<std::string, at::Tensor> tensors(const std::string& file) const {
    std::ifstream in(dir_ / file, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto out = read_torch_save(bytes, path(file));
    EXPECT_TRUE(out.has_value()) << file;
    return out.value_or(std::map<std::string, at::Tensor>{});
  }

 private:
  fs::path dir_;
};

// torchvision's resnet18 (random weights, non-trivial batch-norm statistics) saved as
// torch.save(model.state_dict()): moedil's resnet18 with the ImageNet stem at width 64 takes
// every tensor and gives the same logits on the same inputs.
TEST(WeightNames, TorchvisionResNet18LoadsWholeAndComputesItsLogits) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << kPython << " has no torchvision module (install python3-torchvision)";
  }
  const Reference ref("moedil_weight_names_resnet", R"(import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.uniform_(-0.2, 0.2)
m.eval()
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    logits = m(x)
torch.save(m.state_dict(), sys.argv[1] + '/weights.pt')
torch.save({'x': x, 'logits': logits}, sys.argv[1] + '/io.pt')
)");
  const std::string weights_path = ref.path("weights.pt");
  const NamedTensors weights = read_weights_file(weights_path);
  const auto io = ref.tensors("io.pt");
  ASSERT_EQ(io.count("x") + io.count("logits"), 2u);

  config::ModelConfig c;
  c.name = "resnet18";
  c.resnet_stem = "imagenet";
  c.resnet_width = 64;
  Classifier net = make_model(c, InputShape{3, 64, 64, 10});
  const WeightsMatch match = load_named_tensors(*net, weights, weights_path);
  EXPECT_EQ(match.naming, "torchvision");
  EXPECT_EQ(match.matched.size(), weights.size());  // 122: parameters and buffers
  EXPECT_TRUE(match.missing.empty()) << describe(match);
  EXPECT_TRUE(match.unexpected.empty()) << describe(match);
  EXPECT_TRUE(match.mismatched.empty()) << describe(match);
  net->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits = net->forward(io.at("x"));
  const double difference = (logits - io.at("logits")).abs().max().item<double>();
  EXPECT_LT(difference, 1e-4);
}

// torchvision's VisionTransformer (every tensor perturbed so none is at its default) saved as
// a state dict, and the same tensors under timm's names: moedil's vit of the same shape takes
// every tensor and gives torchvision's logits (its LayerNorm eps is torchvision's 1e-6).
TEST(WeightNames, TorchvisionAndTimmVitsLoadWholeAndComputeTheirLogits) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << kPython << " has no torchvision module (install python3-torchvision)";
  }
  const Reference ref("moedil_weight_names_vit", R"(import sys, torch
from torchvision.models.vision_transformer import VisionTransformer
torch.manual_seed(1)
m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
                      mlp_dim=32, num_classes=10)
with torch.no_grad():
    for p in m.parameters():
        p.add_(torch.randn_like(p) * 0.2)
m.eval()
x = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    logits = m(x)
sd = m.state_dict()
torch.save(sd, sys.argv[1] + '/torchvision.pt')
def timm(name):
    for a, b in [('conv_proj.', 'patch_embed.proj.'), ('class_token', 'cls_token'),
                 ('encoder.pos_embedding', 'pos_embed'), ('encoder.ln.', 'norm.'),
                 ('heads.head.', 'head.'), ('encoder.layers.encoder_layer_', 'blocks.'),
                 ('ln_1.', 'norm1.'), ('ln_2.', 'norm2.'),
                 ('self_attention.in_proj_weight', 'attn.qkv.weight'),
                 ('self_attention.in_proj_bias', 'attn.qkv.bias'),
                 ('self_attention.out_proj.', 'attn.proj.'), ('mlp.0.', 'mlp.fc1.'),
                 ('mlp.3.', 'mlp.fc2.')]:
        name = name.replace(a, b)
    return name
torch.save({timm(k): v for k, v in sd.items()}, sys.argv[1] + '/timm.pt')
torch.save({'x': x, 'logits': logits}, sys.argv[1] + '/io.pt')
)");
  const auto io = ref.tensors("io.pt");
  ASSERT_EQ(io.count("x") + io.count("logits"), 2u);
  const config::ModelConfig c = small_vit(2);
  for (const char* naming : {"torchvision", "timm"}) {
    SCOPED_TRACE(naming);
    const std::string path = ref.path(std::string(naming) + ".pt");
    const NamedTensors weights = read_weights_file(path);
    Classifier net = make_model(c, InputShape{3, 32, 32, 10});
    const WeightsMatch match = load_named_tensors(*net, weights, path);
    EXPECT_EQ(match.naming, naming);
    EXPECT_EQ(match.matched.size(), weights.size());
    EXPECT_TRUE(match.missing.empty()) << describe(match);
    EXPECT_TRUE(match.unexpected.empty()) << describe(match);
    EXPECT_TRUE(match.mismatched.empty()) << describe(match);
    net->eval();
    torch::NoGradGuard no_grad;
    const at::Tensor logits = net->forward(io.at("x"));
    EXPECT_LT((logits - io.at("logits")).abs().max().item<double>(), 1e-4);
  }
}

/// Runs `script` with `dir` as its argv[1]; its exit status.
int run_python(const fs::path& dir, const std::string& script) {
  std::ofstream(dir / "check.py") << script;
  const std::string command =
      std::string(kPython) + " " + (dir / "check.py").string() + " " + dir.string();
  return std::system(command.c_str());
}

// moedil's weights written as torchvision and timm state dicts: Python's torch.load reads them
// and torchvision's own models take them with strict=True and give moedil's logits.
TEST(WeightNames, ExportedStateDictsLoadStrictlyIntoTorchvisionsModels) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << kPython << " has no torchvision module (install python3-torchvision)";
  }
  const Reference ref("moedil_weight_names_export", R"(import sys, torch
torch.manual_seed(5)
torch.save({'x32': torch.randn(2, 3, 32, 32), 'x64': torch.randn(2, 3, 64, 64)},
           sys.argv[1] + '/x.pt')
)");
  const auto x = ref.tensors("x.pt");
  torch::manual_seed(6);
  Classifier vit = make_model(small_vit(2), InputShape{3, 32, 32, 10});
  config::ModelConfig rc;
  rc.name = "resnet18";
  rc.resnet_stem = "imagenet";
  rc.resnet_width = 64;
  Classifier resnet = make_model(rc, InputShape{3, 64, 64, 10});
  vit->eval();
  resnet->eval();
  NamedTensors logits;
  {
    torch::NoGradGuard no_grad;
    // Non-trivial BatchNorm statistics, so that exporting them is checked too.
    for (const auto& item : resnet->named_buffers()) {
      if (item.key().find("running_var") != std::string::npos) item.value().uniform_(0.5, 1.5);
      if (item.key().find("running_mean") != std::string::npos) item.value().uniform_(-0.2, 0.2);
    }
    logits["vit"] = vit->forward(x.at("x32"));
    logits["resnet"] = resnet->forward(x.at("x64"));
  }
  const fs::path dir = fs::path(ref.path("x.pt")).parent_path();
  const auto write = [&](const std::string& file, const NamedTensors& tensors) {
    std::ofstream(dir / file, std::ios::binary) << write_torch_save(tensors);
  };
  write("vit_torchvision.pt", from_moedil_names(named_tensors(*vit), "torchvision"));
  write("vit_timm.pt", from_moedil_names(named_tensors(*vit), "timm"));
  write("resnet_torchvision.pt", from_moedil_names(named_tensors(*resnet), "torchvision"));
  write("logits.pt", logits);
  EXPECT_EQ(run_python(dir, R"(import sys, torch, torchvision
from torchvision.models.vision_transformer import VisionTransformer
d = sys.argv[1]
x = torch.load(d + '/x.pt')
expected = torch.load(d + '/logits.pt')
vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
                        mlp_dim=32, num_classes=10)
vit.load_state_dict(torch.load(d + '/vit_torchvision.pt'), strict=True)
timm = torch.load(d + '/vit_timm.pt')
assert 'patch_embed.proj.weight' in timm and 'blocks.1.mlp.fc2.bias' in timm, sorted(timm)
resnet = torchvision.models.resnet18(num_classes=10)
resnet.load_state_dict(torch.load(d + '/resnet_torchvision.pt'), strict=True)
vit.eval()
resnet.eval()
with torch.no_grad():
    for name, model, inputs in [('vit', vit, x['x32']), ('resnet', resnet, x['x64'])]:
        difference = (model(inputs) - expected[name]).abs().max().item()
        assert difference < 1e-4, (name, difference)
)"),
            0);
}

// torchvision's ConvNeXt (small stages, every tensor perturbed) saved as a state dict loads into
// moedil's convnext_tiny of the same shape tensor for tensor (its [C, 1, 1] layer scales as
// moedil's [C] gamma) and gives its logits; exported back under torchvision's names it loads
// with strict=True and gives them again.
TEST(WeightNames, TorchvisionConvNeXtLoadsWholeAndExportsBack) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << kPython << " has no torchvision module (install python3-torchvision)";
  }
  const Reference ref("moedil_weight_names_convnext", R"(import sys, torch
from torchvision.models.convnext import ConvNeXt, CNBlockConfig
torch.manual_seed(3)
m = ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, 64, 2), CNBlockConfig(64, 128, 1),
              CNBlockConfig(128, None, 1)], num_classes=10)
with torch.no_grad():
    for p in m.parameters():
        p.add_(torch.randn_like(p) * 0.2)
m.eval()
x = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    logits = m(x)
torch.save(m.state_dict(), sys.argv[1] + '/weights.pt')
torch.save({'x': x, 'logits': logits}, sys.argv[1] + '/io.pt')
)");
  const std::string path = ref.path("weights.pt");
  const NamedTensors weights = read_weights_file(path);
  const auto io = ref.tensors("io.pt");
  ASSERT_EQ(io.count("x") + io.count("logits"), 2u);
  config::ModelConfig c;
  c.name = "convnext_tiny";
  c.convnext_depths = {1, 2, 1, 1};
  c.convnext_dims = {16, 32, 64, 128};
  c.convnext_stem_patch = 4;
  Classifier net = make_model(c, InputShape{3, 32, 32, 10});
  const WeightsMatch match = load_named_tensors(*net, weights, path);
  EXPECT_EQ(match.naming, "torchvision");
  EXPECT_EQ(match.matched.size(), weights.size());
  EXPECT_TRUE(match.missing.empty()) << describe(match);
  EXPECT_TRUE(match.unexpected.empty()) << describe(match);
  EXPECT_TRUE(match.mismatched.empty()) << describe(match);
  net->eval();
  {
    torch::NoGradGuard no_grad;
    const at::Tensor logits = net->forward(io.at("x"));
    EXPECT_LT((logits - io.at("logits")).abs().max().item<double>(), 1e-4);
  }
  const fs::path dir = fs::path(path).parent_path();
  std::ofstream(dir / "exported.pt", std::ios::binary)
      << write_torch_save(from_moedil_names(named_tensors(*net), "torchvision"));
  EXPECT_EQ(run_python(dir, R"(import sys, torch
from torchvision.models.convnext import ConvNeXt, CNBlockConfig
d = sys.argv[1]
m = ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, 64, 2), CNBlockConfig(64, 128, 1),
              CNBlockConfig(128, None, 1)], num_classes=10)
m.load_state_dict(torch.load(d + '/exported.pt'), strict=True)
m.eval()
io = torch.load(d + '/io.pt')
with torch.no_grad():
    difference = (m(io['x']) - io['logits']).abs().max().item()
assert difference < 1e-4, difference
)"),
            0);
}

// Another image size: the position embedding's patch grid is resampled as torchvision's
// interpolate_embeddings does for its files (bicubic, corners aligned) and as timm's
// resample_abs_pos_embed does for others (corners not aligned, antialias=True).
TEST(WeightNames, PositionEmbeddingsAreResampledForAnotherImageSize) {
  if (!python_has_torchvision()) {
    GTEST_SKIP() << kPython << " has no torchvision module (install python3-torchvision)";
  }
  const Reference ref("moedil_weight_names_pos", R"(import sys, torch
import torch.nn.functional as F
from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings
torch.manual_seed(2)
m = VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16,
                      mlp_dim=32, num_classes=10)
with torch.no_grad():
    m.encoder.pos_embedding.normal_()
sd = m.state_dict()
torch.save(sd, sys.argv[1] + '/torchvision.pt')
torch.save({'pos_embed': sd['encoder.pos_embedding']}, sys.argv[1] + '/timm.pt')
pos = sd['encoder.pos_embedding']
def timm_resample(size):
    grid = pos[:, 1:].reshape(1, 4, 4, 16).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(size, size), mode='bicubic', antialias=True)
    return torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, size * size, 16)], 1)
torch.save({'torchvision48': interpolate_embeddings(48, 8, sd)['encoder.pos_embedding'],
            'timm48': timm_resample(6), 'timm16': timm_resample(2)}, sys.argv[1] + '/pos.pt')
)");
  const auto expected = ref.tensors("pos.pt");
  const config::ModelConfig c = small_vit(1);
  const auto pos_embed_after = [&](const std::string& file, int64_t side,
                                   const std::string& how) {
    const NamedTensors weights = read_weights_file(ref.path(file));
    Classifier net = make_model(c, InputShape{3, side, side, 10});
    const WeightsMatch match = load_named_tensors(*net, weights, file);
    EXPECT_EQ(match.resampled, std::vector<std::string>{"pos_embed " + how}) << describe(match);
    EXPECT_TRUE(match.mismatched.empty()) << describe(match);
    return net->named_parameters()["pos_embed"].detach().clone();
  };
  const auto near = [](const at::Tensor& a, const at::Tensor& b) {
    return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() < 1e-5;
  };
  EXPECT_TRUE(near(pos_embed_after("torchvision.pt", 48, "4x4 -> 6x6"),
                   expected.at("torchvision48")));
  EXPECT_TRUE(near(pos_embed_after("timm.pt", 48, "4x4 -> 6x6"), expected.at("timm48")));
  EXPECT_TRUE(near(pos_embed_after("timm.pt", 16, "4x4 -> 2x2"), expected.at("timm16")));
}

}  // namespace
}  // namespace moedil::model
