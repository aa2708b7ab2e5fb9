#include "moedil/model/patch_embedding.h"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>

namespace moedil::model {

namespace {

/// The stem's convolution (kernel = stride = patch, no padding) as one matrix product: every
/// patch's C x p x p pixels as a row, times the kernel as a [D, C*p*p] matrix, plus the bias.
/// The same sums as the convolution, without oneDNN's per-call setup that a 1-channel, 4x4
/// patch convolution of 64 small images mostly is (4% of the peer experiment's CPU time).
/// CPU only, where the images tile exactly (else the convolution, which drops the remainder).
at::Tensor patches_times_kernel(torch::nn::Conv2dImpl& conv, const at::Tensor& images) {
  const int64_t p = conv.options.stride()->at(0);
  const int64_t batch = images.size(0), channels = images.size(1);
  const int64_t gh = images.size(2) / p, gw = images.size(3) / p;
  const int64_t dim = conv.weight.size(0);
  const at::Tensor rows = images.reshape({batch, channels, gh, p, gw, p})
                              .permute({0, 2, 4, 1, 3, 5})
                              .reshape({batch * gh * gw, channels * p * p});
  return at::addmm(conv.bias, rows, conv.weight.reshape({dim, channels * p * p}).t())
      .view({batch, gh * gw, dim});
}

/// register_patch_stem builds the convolution with kernel = stride = patch, no padding, one
/// group and a bias; what is left to check is the input: on the CPU, tiled exactly by patches.
bool product_applies(const torch::nn::Conv2dImpl& conv, const at::Tensor& images) {
  const int64_t p = conv.options.stride()->at(0);
  return images.device().is_cpu() && images.dim() == 4 && images.size(0) > 0 &&
         images.size(1) == conv.options.in_channels() && images.size(2) % p == 0 &&
         images.size(3) % p == 0;
}

}  // namespace

at::Tensor PatchStem::embed(const at::Tensor& images) {
  const int64_t batch = images.size(0);
  const at::Tensor x =  // [B, N, D]
      product_applies(*patch_embed, images)
          ? patches_times_kernel(*patch_embed, images)
          : patch_embed->forward(images).flatten(2).transpose(1, 2);
  if (!cls_token.defined()) return x + pos_embed;
  return at::cat({cls_token.expand({batch, 1, cls_token.size(2)}), x}, 1) + pos_embed;
}

void PatchStem::set_requires_grad(bool on) {
  for (auto& p : patch_embed->parameters()) p.set_requires_grad(on);
  if (cls_token.defined()) cls_token.set_requires_grad(on);
  pos_embed.set_requires_grad(on);
}

PatchStem register_patch_stem(torch::nn::Module& owner, const InputShape& in, int64_t patch,
                              int64_t dim, const std::string& who, bool cls) {
  TORCH_CHECK(patch > 0 && in.height % patch == 0 && in.width % patch == 0, who, ": image size ",
              in.height, "x", in.width, " is not divisible by patch_size ", patch);
  const int64_t num_patches = (in.height / patch) * (in.width / patch);
  PatchStem stem;
  stem.patch_embed = owner.register_module(
      "patch_embed",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in.channels, dim, patch).stride(patch)));
  if (cls) stem.cls_token = owner.register_parameter("cls_token", at::randn({1, 1, dim}) * 0.02);
  stem.pos_embed = owner.register_parameter(
      "pos_embed", at::randn({1, num_patches + (cls ? 1 : 0), dim}) * 0.02);
  return stem;
}

}  // namespace moedil::model
