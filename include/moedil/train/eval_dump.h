#pragma once
// `moedil eval RUN_DIR --dump DIR [--dump-inputs]`: what the model saw and said on each domain's
// test split, as NumPy .npy files that any tool reads without torch (numpy.load):
//   DIR/index.json                     run id, checkpoint, domains, MoE layers, file list
//   DIR/domain<j>/logits.npy           float32 [N, classes]
//   DIR/domain<j>/labels.npy           int64 [N]
//   DIR/domain<j>/predictions.npy      int64 [N]  (argmax of the logits)
//   DIR/domain<j>/rows.npy             int64 [N]  the dataset row of each sample
//   DIR/domain<j>/gates.<layer>.npy    float32 [R, experts]  gate of each expert per routed row
//   DIR/domain<j>/experts.<layer>.npy  int64 [R]  expert of largest gate per row (-1: none)
//   DIR/domain<j>/inputs.npy           float32 [N, C, H, W]  normalised input (--dump-inputs)
// Samples are in test-split order. Routed rows R are the samples for per-image routing and the
// samples' tokens (sample-major, N x tokens) for per-token routing.
#include <filesystem>
#include <string>

#include "moedil/data/batching.h"
#include "moedil/model/classifier.h"
#include "moedil/train/evaluate.h"

namespace moedil::train {

struct EvalDump {
  std::filesystem::path dir;
  bool inputs = false;  ///< also write inputs.npy
};

/// Evaluates `model` on `batches` (a test split whose dataset rows are `rows`) like evaluate()
/// and writes the files above into `dir` (created); returns the evaluation.
Evaluation evaluate_and_dump(model::ClassifierImpl& model, const data::Batches& batches,
                             const at::Tensor& rows, int64_t num_classes,
                             const std::filesystem::path& dir, bool inputs);

}  // namespace moedil::train
