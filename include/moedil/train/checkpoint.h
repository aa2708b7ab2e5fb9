#pragma once
// Checkpoints: after every epoch a run writes <run dir>/checkpoint.pt atomically (temp file,
// fsync, rename), holding the model's parameters and buffers, the optimizer's state and a JSON
// document with everything else the trainer needs to continue (position, results so far, replay
// memory). One file, so a crash at any moment leaves either the previous checkpoint or the new
// one, never a mix. The file is sealed (common/sealed.h): a header with the archive's length and
// CRC-32 comes first, and a checkpoint whose bytes do not match it is refused (DataError, exit
// 2), never loaded with other numbers.
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace moedil::train {

/// The LibTorch archive inside the checkpoint at `path`, after checking its checksum. A
/// checkpoint written before checkpoints were sealed (a bare archive) is returned with a
/// logged warning. Throws DataError naming the path when it is missing, not a regular file,
/// damaged (size or CRC-32 mismatch) or no checkpoint at all.
std::string checkpoint_payload(const std::filesystem::path& path);

/// Named tensors of the trainer plugins, by plugin name (train/plugin.h): state too large or too
/// exact for the JSON document (a Fisher information, a frozen model, stored logits).
using CheckpointTensors = std::map<std::string, std::map<std::string, at::Tensor>>;

/// Writes model, optimizer, `state` and the plugins' `tensors` to `path` atomically. Throws
/// IoError naming the path.
void save_checkpoint(const std::filesystem::path& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer& optimizer, const nlohmann::json& state,
                     const CheckpointTensors& tensors = {});

/// Loads a checkpoint written by save_checkpoint into `model` and `optimizer` (built the same
/// way as when it was saved; tensors are moved to `device`) and returns its state document;
/// the plugins' tensors go to `tensors` when given (none from checkpoints older than plugins).
/// Throws DataError naming the path when it is missing, unreadable or does not fit the model.
nlohmann::json load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer, const c10::Device& device,
                               CheckpointTensors* tensors = nullptr);

/// An estimate of a checkpoint's size in bytes: parameters and buffers, plus `optimizer_slots`
/// tensors of the parameters' size each (2 for Adam's moments), plus `state_bytes`.
int64_t estimate_checkpoint_bytes(const torch::nn::Module& model, int64_t optimizer_slots,
                                  int64_t state_bytes);

}  // namespace moedil::train
