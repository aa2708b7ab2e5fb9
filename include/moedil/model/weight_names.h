#pragma once
// The names other libraries give the tensors of the models moedil builds, mapped to moedil's:
// a torchvision ResNet-18 or VisionTransformer state dict, or a timm ViT's, loads into the
// matching moedil model by name (model.init_weights).
//   torchvision ResNet:  layerN.B.downsample.0 / .1        -> layerN.B.shortcut_conv / _bn
//   timm ViT:            patch_embed.proj                  -> patch_embed
//   torchvision ViT:     conv_proj                         -> patch_embed
//                        class_token                       -> cls_token
//                        encoder.pos_embedding             -> pos_embed
//                        encoder.layers.encoder_layer_N.   -> blocks.N. with inside it
//                          ln_1 / ln_2                     -> norm1 / norm2
//                          self_attention.in_proj_weight/_bias -> attn.qkv.weight / .bias
//                          self_attention.out_proj         -> attn.proj
//                          mlp.0 / mlp.3 (linear_1 / linear_2) -> mlp.fc1 / mlp.fc2
//                        encoder.ln                        -> norm
//                        heads.head                        -> head
//   torchvision ConvNeXt: features.0.0 / .1                -> stem / stem_norm
//                        features.(2s+1).B.block.0/2/3/5   -> stage<s>.B.dwconv/norm/pwconv1/pwconv2
//                        features.(2s+1).B.layer_scale     -> stage<s>.B.gamma ([C,1,1] -> [C])
//                        features.(2i).0 / .1              -> downsample_norm<i> / downsample_conv<i>
//                        classifier.0 / .2                 -> norm / head
#include <set>
#include <string>

#include "moedil/model/weights_file.h"

namespace moedil::model {

struct RenamedWeights {
  NamedTensors weights;
  /// "moedil" (nothing renamed), "torchvision" or "timm": whose names were found.
  std::string naming = "moedil";
};

/// `weights` with every name that is not one of `model_names` renamed as above (moedil never
/// uses those names, so the result need not be the model's: an MoE model upcycles its experts
/// from the renamed dense tensors); other names are kept as they are.
RenamedWeights to_moedil_names(const NamedTensors& weights,
                               const std::set<std::string>& model_names);

/// `weights` (moedil's names) under the names of `naming`, the reverse of the table above:
/// "moedil" (unchanged), "torchvision" (ResNet shortcuts and VisionTransformer names) or
/// "timm" (the ViT patch embedding's); ConvNeXt's gamma becomes torchvision's [C, 1, 1]
/// layer_scale. Names the table does not cover are kept.
NamedTensors from_moedil_names(const NamedTensors& weights, const std::string& naming);

}  // namespace moedil::model
