#pragma once
// `moedil export RUN_DIR --state-dict FILE`: a run's final weights (its checkpoint.pt) as a
// state dict that Python's torch.load reads, under moedil's, torchvision's or timm's names.
#include <filesystem>
#include <string>

namespace moedil::train {

struct ExportResult {
  std::string model;     ///< the run's model family
  std::size_t tensors = 0;
};

/// Writes the model tensors of run_dir/checkpoint.pt to `file` (atomically) in torch.save's
/// format, named per `naming`: "moedil", "torchvision" (vit, resnet18, convnext_tiny) or "timm"
/// (dense vit). Throws UsageError for an unknown naming or one the run's model has no names
/// in, DataError when the run has no run.json or checkpoint.
ExportResult export_run(const std::filesystem::path& run_dir, const std::filesystem::path& file,
                        const std::string& naming);

}  // namespace moedil::train
