#include "moedil/model/patch_embedding.h"

#include <c10/util/Exception.h>

namespace moedil::model {

at::Tensor PatchStem::embed(const at::Tensor& images) {
  const int64_t batch = images.size(0);
  const at::Tensor x = patch_embed->forward(images).flatten(2).transpose(1, 2);  // [B, N, D]
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
