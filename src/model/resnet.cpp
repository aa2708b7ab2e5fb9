#include "moedil/model/resnet.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/basic_block.h"
#include "moedil/model/moe/block_moe.h"
#include "moedil/model/moe/conv_moe.h"

namespace moedil::model {

ResNetImpl::ResNetImpl(const ResNetOptions& options_) : options(options_) {
  const InputShape& in = options.input();
  const int64_t w = options.width();
  const std::string& kind = options.moe_kind();
  TORCH_CHECK(w >= 1, "ResNet: width ", w, " must be >= 1");
  TORCH_CHECK(options.stem() == "cifar" || options.stem() == "imagenet",
              "ResNet: stem must be 'cifar' or 'imagenet', got '", options.stem(), "'");
  TORCH_CHECK(kind == "none" || kind == "conv" || kind == "block",
              "ResNet: moe_kind must be 'none', 'conv' or 'block', got '", kind, "'");
  for (int64_t s : options.moe_stages()) {
    TORCH_CHECK(s >= 0 && s <= 3, "ResNet: moe stage ", s, " is out of range 0..3");
  }

  if (options.stem() == "cifar") {
    conv1 = register_module(
        "conv1", torch::nn::Conv2d(
                     torch::nn::Conv2dOptions(in.channels, w, 3).stride(1).padding(1).bias(false)));
  } else {
    conv1 = register_module(
        "conv1", torch::nn::Conv2d(
                     torch::nn::Conv2dOptions(in.channels, w, 7).stride(2).padding(3).bias(false)));
    maxpool = register_module(
        "maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(w));

  int64_t channels = w;
  for (int64_t s = 0; s < 4; ++s) {
    const std::string stage_name = "layer" + std::to_string(s + 1);
    const int64_t out = w << s;  // w, 2w, 4w, 8w
    const auto& moe_stages = options.moe_stages();
    const bool moe_stage =
        kind != "none" && std::find(moe_stages.begin(), moe_stages.end(), s) != moe_stages.end();
    torch::nn::Sequential stage;
    for (int64_t b = 0; b < 2; ++b) {
      const std::string block_name = stage_name + "." + std::to_string(b);
      auto block = BasicBlockOptions(channels, out, b == 0 && s > 0 ? 2 : 1);
      if (moe_stage && kind == "conv") {
        BasicBlock routed_convs(block.moe(options.moe()));
        stage->push_back(routed_convs);
        register_moe_layer(block_name + ".conv1", *routed_convs->moe_conv1);
        register_moe_layer(block_name + ".conv2", *routed_convs->moe_conv2);
      } else if (moe_stage && kind == "block") {
        const moe::MoeSettings& m = options.moe();
        moe::BlockMoe routed(moe::BlockMoeOptions(block, m.mixture())
                                 .num_shared(m.num_shared())
                                 .noise_std(m.noise_std())
                                 .expert_dropout(m.expert_dropout()));
        stage->push_back(routed);
        register_moe_layer(block_name, *routed);
      } else {
        stage->push_back(BasicBlock(block));
      }
      channels = out;
    }
    stages.push_back(register_module(stage_name, stage));
  }
  fc = register_module("fc", torch::nn::Linear(channels, in.num_classes));
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) {
  at::Tensor x = at::relu(bn1(conv1(images)));       // [B, w, H, W] (cifar) or [B, w, H/2, W/2]
  if (maxpool) x = maxpool(x);                       // imagenet: [B, w, H/4, W/4]
  for (auto& stage : stages) x = stage->forward(x);  // [B, 8w, H/8, W/8] (cifar)
  return fc(x.mean({2, 3}));                         // GAP [B, 8w] -> [B, num_classes]
}

}  // namespace moedil::model
