#pragma once
// Initial weights from a file (`model.init_weights`): named tensors saved by moedil (a run's
// checkpoint.pt, or any module saved with torch::save) or a PyTorch state dict saved with
// torch.save(model.state_dict(), path). Names are matched to the model's parameters and
// buffers; what matched, what is missing, what the file has in addition and what has another
// shape is reported, and a file matching nothing is an error.
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace moedil::model {

/// Name -> tensor, names dotted as in named_parameters() ("blocks.1.moe.router.gate.weight").
using NamedTensors = std::map<std::string, at::Tensor>;

/// Every parameter and buffer of `module` under its dotted name (the module's own tensors, not
/// copies): what load_named_tensors matches a file against, and what a state dict holds.
NamedTensors named_tensors(const torch::nn::Module& module);

/// Reads every tensor of a weights file. A moedil checkpoint's model part is used when the file
/// is a checkpoint. Throws DataError naming the path when it does not exist or is neither a
/// LibTorch archive nor a pickled dict of tensors.
NamedTensors read_weights_file(const std::string& path);

struct WeightsMatch {
  std::vector<std::string> matched;     ///< copied into the model
  std::vector<std::string> missing;     ///< in the model, not in the file (left as initialised)
  std::vector<std::string> unexpected;  ///< in the file, not in the model
  std::vector<std::string> mismatched;  ///< in both, with different shapes (left as initialised)
  /// Matched after resampling: a ViT's pos_embed for another image size ("pos_embed 14x14 ->
  /// 8x8"), its patch grid resized bicubically (corners aligned as torchvision does for its
  /// files; for others not aligned and antialiased, as timm).
  std::vector<std::string> resampled;
  /// Whose names the file used: "moedil", "torchvision" or "timm" (model/weight_names.h).
  std::string naming = "moedil";
  /// Expert tensors the file has no name for, copied from the dense tensor they replace
  /// (upcycling): "blocks.1.moe.experts.0.fc1.weight <- blocks.1.mlp.fc1.weight". Also in
  /// `matched`.
  std::vector<std::string> upcycled;
  /// Classifier heads kept at their fresh initialisation because the file's has another class
  /// count: "head: 1000 classes in the file, 10 in the model". Also in `mismatched`.
  std::vector<std::string> replaced_heads;
};

/// How load_named_tensors fills what the file has no name for.
struct UpcycleOptions {
  /// Noise added to each upcycled copy: std = noise * the std of the copied tensor (0: exact).
  double noise = 0.0;
};

/// Copies every tensor of `weights` whose name and shape match into `module` (under no_grad,
/// converting dtype and device) and says what happened. torchvision's and timm's names of the
/// same tensors are read as moedil's (model/weight_names.h); the report uses moedil's names. Throws DataError naming `source` when
/// nothing matched.
/// Upcycling: an MoE expert tensor the file does not have is copied from the dense tensor it
/// replaces, found by name: `X.experts.E.Y` or `X.shared_experts.E.Y` from `X.Y` (CNN MoE convs
/// and blocks), `blocks.N.moe.experts.E.Y` from `blocks.N.mlp.Y` (MoE ViT MLPs), and a switch
/// expert tower `experts.E.blocks.J.Y` / `experts.E.norm.Y` / `experts.E.head.Y` from the
/// file's upper block `blocks.(S + J).Y` (S: the model's shared blocks), `norm.Y`, `head.Y`,
/// and a prototype head `heads.E.Y` (vit_prototype_heads) from `head.Y`.
WeightsMatch load_named_tensors(torch::nn::Module& module, const NamedTensors& weights,
                                const std::string& source, const UpcycleOptions& upcycle = {});

/// Transfer (`model.freeze_backbone`): every parameter outside the classifier heads (`head`,
/// `fc`, `heads.E`, a switch expert's head), the routers and the MoE experts stops requiring
/// gradients.
/// Returns how many tensors were frozen.
std::size_t freeze_backbone(torch::nn::Module& module);

/// A parameter name of the backbone: outside the classifier heads, the routers and the MoE
/// experts (what freeze_backbone freezes and backbone_lr_multiplier scales).
bool backbone_tensor(const std::string& name);

/// One line for the log: "matched 10 of 12 tensors; missing 2 (a, b); unexpected 0; shape
/// mismatch 0", listing at most 5 names per kind, then "; torchvision names" (or timm) when
/// the file used those.
std::string describe(const WeightsMatch& match);

}  // namespace moedil::model
