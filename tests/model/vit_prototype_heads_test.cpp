#include "moedil/model/vit_prototype_heads.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"
#include "moedil/model/weights_file.h"

namespace moedil::model {
namespace {

constexpr int64_t kExperts = 3;
constexpr int64_t kClasses = 5;
const InputShape kInput{3, 8, 8, kClasses};

config::ModelConfig small_config() {
  config::ModelConfig c;
  c.name = "vit_prototype_heads";
  c.patch_size = 4;
  c.embed_dim = 8;
  c.depth = 2;
  c.num_heads = 2;
  c.mlp_ratio = 2.0;
  c.moe_num_unshared_experts = kExperts;
  c.ema_alpha = 1.0;
  c.router_temperature = 0.5;
  return c;
}

std::shared_ptr<ViTPrototypeHeadsImpl> build(const config::ModelConfig& c, uint64_t seed = 0) {
  at::manual_seed(seed);
  auto model = std::dynamic_pointer_cast<ViTPrototypeHeadsImpl>(make_model(c, kInput));
  EXPECT_NE(model, nullptr);
  return model;
}

/// head e of `model` on rows f [n, D]
at::Tensor head(ViTPrototypeHeadsImpl& model, int64_t e, const at::Tensor& f) {
  return model.heads[static_cast<std::size_t>(e)]->as<torch::nn::Linear>()->forward(f);
}

TEST(ViTPrototypeHeads, EachImageGetsTheHeadOfItsNearestPrototype) {
  auto model = build(small_config());
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({16, 3, 8, 8});
  const at::Tensor f = model->feature(x);
  ASSERT_EQ(f.sizes(), (at::IntArrayRef{16, 8}));
  EXPECT_TRUE(at::allclose(f.norm(2, 1), at::ones({16}), 1e-5, 1e-6));  // unit features
  // The prototypes start as unit rows.
  EXPECT_TRUE(at::allclose(model->prototypes.norm(2, 1), at::ones({kExperts}), 1e-5, 1e-6));
  const at::Tensor nearest = at::matmul(f, model->prototypes.t()).argmax(1);
  const at::Tensor out = model->forward(x);
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{16, kClasses}));
  for (int64_t i = 0; i < 16; ++i) {
    const int64_t e = nearest[i].item<int64_t>();
    EXPECT_TRUE(at::allclose(out[i], head(*model, e, f.slice(0, i, i + 1))[0], 1e-5, 1e-6))
        << "image " << i << " expert " << e;
  }
  // Usage counts the images per head, in evaluation.
  const auto usage = model->expert_usage(false);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].layer, "heads");
  int64_t total = 0;
  for (int64_t e = 0; e < kExperts; ++e) {
    EXPECT_EQ(usage[0].counts[static_cast<std::size_t>(e)], nearest.eq(e).sum().item<int64_t>());
    total += usage[0].counts[static_cast<std::size_t>(e)];
  }
  EXPECT_EQ(total, 16);
  // A forced head replaces the routing.
  model->force_expert("heads", 2);
  EXPECT_TRUE(at::allclose(model->forward(x), head(*model, 2, f), 1e-5, 1e-6));
}

TEST(ViTPrototypeHeads, WeightedMixingSumsEveryHeadBySoftmaxOfTheCosines) {
  config::ModelConfig c = small_config();
  c.head_mixing = "weighted";
  auto model = build(c);
  const at::Tensor x = at::randn({6, 3, 8, 8});
  const at::Tensor out = model->forward(x);
  at::Tensor want;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor f = model->feature(x);
    const at::Tensor probs = at::softmax(at::matmul(f, model->prototypes.t()) / 0.5, 1);
    want = at::zeros({6, kClasses});
    for (int64_t e = 0; e < kExperts; ++e) want += probs.select(1, e).unsqueeze(1) * head(*model, e, f);
  }
  EXPECT_TRUE(at::allclose(out, want, 1e-5, 1e-6));
  // The task loss reaches the backbone through the weights too: the cosine scores depend on it.
  out.sum().backward();
  EXPECT_TRUE(model->stem.patch_embed->weight.grad().defined());
  EXPECT_FALSE(model->prototypes.requires_grad());
}

TEST(ViTPrototypeHeads, PrototypesMoveTowardTheirImagesInTrainingOnly) {
  config::ModelConfig c = small_config();
  c.ema_alpha = 0.5;
  auto model = build(c, 3);
  const at::Tensor x = at::randn({12, 3, 8, 8});
  const at::Tensor start = model->prototypes.clone();
  model->eval();
  {
    torch::NoGradGuard no_grad;
    model->forward(x);
  }
  EXPECT_TRUE(at::equal(model->prototypes, start));  // evaluation never moves them
  model->train();
  at::Tensor f;
  {
    torch::NoGradGuard no_grad;
    f = model->feature(x);
  }
  const at::Tensor nearest = at::matmul(f, start.t()).argmax(1);
  model->forward(x);
  for (int64_t e = 0; e < kExperts; ++e) {
    const at::Tensor won = nearest.eq(e).nonzero().squeeze(1);
    at::Tensor want = start[e];
    if (won.numel() > 0) {
      want = 0.5 * start[e] + 0.5 * f.index_select(0, won).mean(0);
      want = want / want.norm();
    }
    EXPECT_TRUE(at::allclose(model->prototypes[e], want, 1e-5, 1e-6)) << "prototype " << e;
  }
  // Frozen routing (the trainer's router freezing): fixed in training.
  const at::Tensor moved = model->prototypes.clone();
  model->routing_frozen = true;
  model->forward(x);
  EXPECT_TRUE(at::equal(model->prototypes, moved));
  // Keep rate 1: fixed, in training too.
  auto fixed = build(small_config(), 3);
  fixed->train();
  fixed->forward(x);
  EXPECT_TRUE(at::equal(fixed->prototypes, start));
}

TEST(ViTPrototypeHeads, ItsBackboneHasTheDenseViTsNamesSoAViTFileLoadsIt) {
  config::ModelConfig dense = small_config();
  dense.name = "vit";
  at::manual_seed(7);
  const Classifier vit = make_model(dense, kInput);
  auto model = build(small_config(), 1);
  const WeightsMatch match = load_named_tensors(*model, named_tensors(*vit), "vit.pt");
  // Everything the file has; each head starts as the dense head (same class count); only the
  // prototypes are the model's own.
  EXPECT_TRUE(match.unexpected.empty());
  EXPECT_EQ(match.missing, std::vector<std::string>{"prototypes"});
  EXPECT_TRUE(match.mismatched.empty());
  EXPECT_EQ(match.upcycled.size(), 2u * kExperts);
  const NamedTensors loaded = named_tensors(*model);
  for (const auto& [name, tensor] : named_tensors(*vit)) {
    if (name.rfind("head.", 0) == 0) {
      for (int64_t e = 0; e < kExperts; ++e) {
        const std::string head_name = "heads." + std::to_string(e) + name.substr(4);
        EXPECT_TRUE(at::equal(loaded.at(head_name), tensor)) << head_name;
      }
    } else {
      EXPECT_TRUE(at::equal(loaded.at(name), tensor)) << name;
    }
  }
  // LayerNorm eps 1e-6 by default, as the dense ViT (timm's and torchvision's).
  EXPECT_EQ(model->norm->options.eps(), 1e-6);
  // freeze_backbone leaves the heads training.
  freeze_backbone(*model);
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.value().requires_grad(), item.key().rfind("heads.", 0) == 0) << item.key();
  }
}

TEST(ViTPrototypeHeads, RefusesBadOptions) {
  config::ModelConfig c = small_config();
  c.ema_alpha = 1.5;
  EXPECT_ANY_THROW(build(c));
  c = small_config();
  c.router_temperature = 0.0;
  EXPECT_ANY_THROW(build(c));
  c = small_config();
  c.head_mixing = "average";
  EXPECT_ANY_THROW(build(c));
}

}  // namespace
}  // namespace moedil::model
