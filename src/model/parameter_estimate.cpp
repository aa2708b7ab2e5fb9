#include "moedil/model/parameter_estimate.h"

#include <algorithm>
#include <set>
#include <string>

#include "moedil/common/error.h"

namespace moedil::model {
namespace {

// Parameter counts of the building blocks, in doubles (as each module registers them).
double linear(double in, double out) { return in * out + out; }
double layer_norm(double dim) { return 2 * dim; }
double batch_norm(double channels) { return 2 * channels; }  // running stats are buffers
double conv(double in, double out, double kernel, bool bias) {
  return in * out * kernel * kernel + (bias ? out : 0.0);
}

double attention(double dim) { return linear(dim, 3 * dim) + linear(dim, dim); }
double feed_forward(double dim, double hidden) { return linear(dim, hidden) + linear(hidden, dim); }
/// Norms and attention of a transformer block, without its MLP.
double block_without_mlp(double dim) { return 2 * layer_norm(dim) + attention(dim); }

double as_double(int64_t v) { return static_cast<double>(v); }

/// The parts every ViT family shares.
struct VitParts {
  double dim = 0;
  double hidden = 0;
  double stem = 0;  ///< patch embedding, CLS token, positions
  double head = 0;  ///< final norm and classifier
  double moe_blocks = 0;
  double dense_blocks = 0;
};

VitParts vit_parts(const config::ModelConfig& m, const ImageSpec& in) {
  VitParts s;
  s.dim = as_double(m.embed_dim);
  // As the ViTs build it: mlp_ratio * dim truncated, at least 1.
  s.hidden = as_double(
      std::max<int64_t>(1, static_cast<int64_t>(m.mlp_ratio * static_cast<double>(m.embed_dim))));
  const int64_t patch = std::max<int64_t>(1, m.patch_size);
  const double patches = as_double(in.height / patch) * as_double(in.width / patch);
  // Patch embedding, CLS token and positions (vit and vit_moe may have no CLS token).
  const bool cls = m.moe_route_with_cls_token || (m.name != "vit" && m.name != "vit_moe");
  s.stem = conv(as_double(in.channels), s.dim, as_double(patch), true) + (cls ? s.dim : 0.0) +
           (patches + (cls ? 1.0 : 0.0)) * s.dim;
  s.head = layer_norm(s.dim) + linear(s.dim, as_double(in.num_classes));
  std::set<int64_t> moe;  // a block listed twice is one MoE block
  for (int64_t index : m.moe_layer_indices) {
    if (index >= 0 && index < m.depth) moe.insert(index);
  }
  s.moe_blocks = as_double(static_cast<int64_t>(moe.size()));
  s.dense_blocks = as_double(m.depth) - s.moe_blocks;
  return s;
}

double vit_family(const config::ModelConfig& m, const ImageSpec& in) {
  const VitParts v = vit_parts(m, in);
  const double dense_block = block_without_mlp(v.dim) + feed_forward(v.dim, v.hidden);
  double moe_block = 0;
  if (m.name == "vit") {
    moe_block = dense_block;  // vit has no MoE blocks
  } else if (m.name == "vit_moe") {
    const double routed = as_double(m.moe_num_unshared_experts);
    moe_block = block_without_mlp(v.dim) + linear(v.dim, routed) +
                (routed + as_double(m.moe_num_shared_experts)) * feed_forward(v.dim, v.hidden);
  } else if (m.name == "hetero_moe") {
    moe_block = block_without_mlp(v.dim) +
                linear(v.dim, as_double(static_cast<int64_t>(m.hetero_experts.size())));
    for (const auto& kind : m.hetero_experts) {
      if (kind == "mlp") {
        moe_block += feed_forward(v.dim, v.hidden);
      } else if (kind == "conv") {  // 3x3 conv to hidden, 1x1 conv back
        moe_block += conv(v.dim, v.hidden, 3, true) + conv(v.hidden, v.dim, 1, true);
      } else {  // attention
        moe_block += attention(v.dim);
      }
    }
  } else if (m.name == "vit_moe_centroid") {  // a learnable projection routes to centroids
    moe_block = block_without_mlp(v.dim) + linear(v.dim, v.dim) +
                as_double(m.moe_num_unshared_experts) * feed_forward(v.dim, v.hidden);
  } else {  // vit_moe_imagelevel: the centroids are buffers, no routing parameter
    moe_block = block_without_mlp(v.dim) +
                as_double(m.moe_num_unshared_experts) * feed_forward(v.dim, v.hidden);
  }
  if (m.name == "vit") return v.stem + as_double(m.depth) * dense_block + v.head;
  return v.stem + v.dense_blocks * dense_block + v.moe_blocks * moe_block + v.head;
}

double switch_vit(const config::ModelConfig& m, const ImageSpec& in) {
  const VitParts v = vit_parts(m, in);
  const double block = block_without_mlp(v.dim) + feed_forward(v.dim, v.hidden);
  const double shared = as_double(std::max<int64_t>(0, m.depth - m.expert_depth));
  // Each expert: its own upper blocks, norm and head; no shared norm or head.
  const double expert = as_double(m.expert_depth) * block + v.head;
  return v.stem + shared * block + as_double(m.moe_num_unshared_experts) * expert;
}

double prototype_heads(const config::ModelConfig& m, const ImageSpec& in) {
  const VitParts v = vit_parts(m, in);
  const double block = block_without_mlp(v.dim) + feed_forward(v.dim, v.hidden);
  // The dense ViT with one head per expert (the prototypes are buffers).
  return v.stem + as_double(m.depth) * block + layer_norm(v.dim) +
         as_double(m.moe_num_unshared_experts) * linear(v.dim, as_double(in.num_classes));
}

/// A dense ResNet BasicBlock (two 3x3 convs, BatchNorms, projection shortcut when needed).
double basic_block(double in, double out, int64_t stride) {
  double n = conv(in, out, 3, false) + batch_norm(out) + conv(out, out, 3, false) +
             batch_norm(out);
  if (stride != 1 || in != out) n += conv(in, out, 1, false) + batch_norm(out);
  return n;
}

double resnet(const config::ModelConfig& m, const ImageSpec& in) {
  const std::string kind = m.name == "resnet18_conv_moe"    ? "conv"
                           : m.name == "resnet18_block_moe" ? "block"
                                                            : "none";
  const double routed = as_double(m.moe_num_unshared_experts);
  const double all_experts = routed + as_double(m.moe_num_shared_experts);
  const double w = as_double(m.resnet_width);
  double n = conv(as_double(in.channels), w, m.resnet_stem == "imagenet" ? 7 : 3, false) +
             batch_norm(w);
  double channels = w;
  for (int64_t s = 0; s < 4; ++s) {
    const double out = w * as_double(int64_t{1} << s);
    const bool moe = kind != "none" && std::find(m.resnet_moe_stages.begin(),
                                                 m.resnet_moe_stages.end(),
                                                 s) != m.resnet_moe_stages.end();
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t stride = b == 0 && s > 0 ? 2 : 1;
      if (moe && kind == "conv") {
        // Each 3x3 conv: a router on its input channels and one conv per expert.
        n += linear(channels, routed) + all_experts * conv(channels, out, 3, false) +
             batch_norm(out) + linear(out, routed) + all_experts * conv(out, out, 3, false) +
             batch_norm(out);
        if (stride != 1 || channels != out) n += conv(channels, out, 1, false) + batch_norm(out);
      } else if (moe && kind == "block") {
        n += linear(channels, routed) + all_experts * basic_block(channels, out, stride);
      } else {
        n += basic_block(channels, out, stride);
      }
      channels = out;
    }
  }
  return n + linear(channels, as_double(in.num_classes));
}

double convnext(const config::ModelConfig& m, const ImageSpec& in) {
  if (m.convnext_dims.size() != 4 || m.convnext_depths.size() != 4) return 0;  // refused earlier
  const auto dim = [&](std::size_t i) { return as_double(m.convnext_dims[i]); };
  double n = conv(as_double(in.channels), dim(0), as_double(m.convnext_stem_patch), true) +
             layer_norm(dim(0));
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) n += layer_norm(dim(i - 1)) + conv(dim(i - 1), dim(i), 2, true);
    const double d = dim(i);
    // Depthwise 7x7 conv, norm, 4x MLP, layer scale.
    const double block = (49 * d + d) + layer_norm(d) + linear(d, 4 * d) + linear(4 * d, d) + d;
    n += as_double(m.convnext_depths[i]) * block;
  }
  return n + layer_norm(dim(3)) + linear(dim(3), as_double(in.num_classes));
}

}  // namespace

double estimate_parameters(const config::ModelConfig& m, const ImageSpec& input) {
  if (m.name == "vit" || m.name == "vit_moe" || m.name == "hetero_moe" ||
      m.name == "vit_moe_centroid" || m.name == "vit_moe_imagelevel") {
    return vit_family(m, input);
  }
  if (m.name == "switch_moe_vit") return switch_vit(m, input);
  if (m.name == "vit_prototype_heads") return prototype_heads(m, input);
  if (m.name == "resnet18" || m.name == "resnet18_conv_moe" || m.name == "resnet18_block_moe") {
    return resnet(m, input);
  }
  if (m.name == "convnext_tiny") return convnext(m, input);
  throw ConfigError("model.name: no parameter estimate for model '" + m.name + "'");
}

}  // namespace moedil::model
