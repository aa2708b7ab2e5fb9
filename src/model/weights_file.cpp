#include "moedil/model/weights_file.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>

#include "moedil/common/error.h"
#include "moedil/common/sealed.h"
#include "moedil/common/safe_file.h"
#include "moedil/model/torch_save.h"
#include "moedil/model/weight_names.h"

namespace moedil::model {
namespace {

// Every tensor of a (possibly nested) archive, names joined with '.'.
void collect(torch::serialize::InputArchive& archive, const std::string& prefix,
             NamedTensors& out) {
  for (const std::string& key : archive.keys()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    at::Tensor tensor;
    if (archive.try_read(key, tensor)) {
      out[name] = tensor;
      continue;
    }
    torch::serialize::InputArchive child;
    if (archive.try_read(key, child)) collect(child, name, out);
  }
}

bool read_archive(std::string_view bytes, NamedTensors& out) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size(), at::kCPU);
  } catch (const c10::Error&) {
    return false;
  }
  torch::serialize::InputArchive model;
  // A moedil checkpoint keeps the model under "model", next to optimizer and state.
  if (archive.try_read("model", model)) {
    collect(model, "", out);
  } else {
    collect(archive, "", out);
  }
  return true;
}

bool read_pickle(std::string_view bytes, NamedTensors& out) {
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error&) {
    return false;
  }
  if (!value.isGenericDict()) return false;
  for (const auto& entry : value.toGenericDict()) {
    if (entry.key().isString() && entry.value().isTensor()) {
      out[entry.key().toStringRef()] = entry.value().toTensor();
    }
  }
  return true;
}

/// A checkpoint that keeps its state dict under one key ("state_dict", "model" or
/// "model_state_dict", beside numbers and strings) gives that state dict's names.
NamedTensors without_wrapper(NamedTensors tensors) {
  for (const std::string wrapper : {"state_dict", "model", "model_state_dict"}) {
    const std::string prefix = wrapper + ".";
    const bool all = std::all_of(tensors.begin(), tensors.end(), [&](const auto& item) {
      return item.first.compare(0, prefix.size(), prefix) == 0;
    });
    if (!all) continue;
    NamedTensors out;
    for (auto& [name, tensor] : tensors) out[name.substr(prefix.size())] = std::move(tensor);
    return out;
  }
  return tensors;
}

int64_t square_root(int64_t n) {
  if (n <= 0) return 0;
  auto r = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return r * r == n ? r : 0;
}

/// A ViT position embedding [1, extra + g*g, D] of the file resampled to the model's
/// [1, extra + h*h, D] (extra: the CLS token's, 0 or 1, kept as it is): the g x g grid
/// bicubically, as torchvision's interpolate_embeddings does for its files (corners aligned)
/// and as timm's resample_abs_pos_embed does otherwise (corners not aligned, antialias=True).
/// Undefined when the shapes are not two such embeddings. `how` says what was done.
at::Tensor resample_position_embedding(const at::Tensor& given, const at::Tensor& target,
                                       bool align_corners, std::string& how) {
  if (given.dim() != 3 || target.dim() != 3 || given.size(0) != 1 || target.size(0) != 1 ||
      given.size(2) != target.size(2)) {
    return {};
  }
  for (int64_t extra : {int64_t{1}, int64_t{0}}) {
    const int64_t from = square_root(given.size(1) - extra);
    const int64_t to = square_root(target.size(1) - extra);
    if (from == 0 || to == 0) continue;
    const int64_t dim = given.size(2);
    const at::Tensor grid = given.narrow(1, extra, from * from)
                                .to(at::kFloat)
                                .reshape({1, from, from, dim})
                                .permute({0, 3, 1, 2});
    // timm resamples with antialias=True, whose bicubic kernel (a = -0.5) differs from the
    // plain one (a = -0.75) even when enlarging; torchvision never antialiases.
    const std::vector<int64_t> side{to, to};
    const at::IntArrayRef size(side);
    const at::Tensor scaled = align_corners ? at::upsample_bicubic2d(grid, size, true)
                                            : at::_upsample_bicubic2d_aa(grid, size, false);
    const at::Tensor resized = scaled.permute({0, 2, 3, 1}).reshape({1, to * to, dim});
    how = std::to_string(from) + "x" + std::to_string(from) + " -> " + std::to_string(to) + "x" +
          std::to_string(to);
    return at::cat({given.narrow(1, 0, extra).to(at::kFloat), resized}, 1);
  }
  return {};
}

bool digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// `name` split at its dots.
std::vector<std::string> parts_of(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    parts.push_back(name.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

std::string joined(const std::vector<std::string>& parts, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) out += (i > from ? "." : "") + parts[i];
  return out;
}

/// The dense tensor an MoE expert tensor is upcycled from (load_named_tensors' rules), or ""
/// when `name` is no expert tensor. `shared_blocks`: how many top-level blocks the model has.
std::string upcycle_source(const std::string& name, int64_t shared_blocks) {
  const std::vector<std::string> p = parts_of(name);
  // A switch expert tower: experts.E.blocks.J.Y, experts.E.norm.Y, experts.E.head.Y.
  if (p.size() >= 4 && p[0] == "experts" && digits(p[1])) {
    if (p[2] == "blocks" && p.size() >= 5 && digits(p[3])) {
      return "blocks." + std::to_string(shared_blocks + std::stoll(p[3])) + "." +
             joined(p, 4, p.size());
    }
    if (p[2] == "norm" || p[2] == "head") return joined(p, 2, p.size());
    return "";
  }
  // A prototype head (vit_prototype_heads): heads.E.Y <- head.Y.
  if (p.size() == 3 && p[0] == "heads" && digits(p[1])) return "head." + p[2];
  for (std::size_t i = 1; i + 2 < p.size(); ++i) {
    if ((p[i] != "experts" && p[i] != "shared_experts") || !digits(p[i + 1])) continue;
    // An MoE ViT's MLP: blocks.N.moe.experts.E.Y <- blocks.N.mlp.Y.
    if (p[i - 1] == "moe") return joined(p, 0, i - 1) + ".mlp." + joined(p, i + 2, p.size());
    // A CNN MoE conv or block: X.experts.E.Y <- X.Y.
    return joined(p, 0, i) + "." + joined(p, i + 2, p.size());
  }
  return "";
}

/// A classifier head's weight or bias: head.*, fc.* (ResNet), a prototype head (heads.E.*) or
/// a switch expert's head.
bool head_tensor(const std::string& name) {
  const std::vector<std::string> p = parts_of(name);
  if (p.size() == 2) return p[0] == "head" || p[0] == "fc";
  if (p.size() == 3) return p[0] == "heads" && digits(p[1]);
  return p.size() == 4 && p[0] == "experts" && digits(p[1]) && p[2] == "head";
}

/// A head weight of another class count: listed in match.replaced_heads.
void note_replaced_head(WeightsMatch& match, const std::string& name, const at::Tensor& given,
                        const at::Tensor& target) {
  const std::string suffix = ".weight";
  if (!head_tensor(name) || given.dim() != 2 || target.dim() != 2 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return;
  }
  match.replaced_heads.push_back(name.substr(0, name.size() - suffix.size()) + ": " +
                                 std::to_string(given.size(0)) + " classes in the file, " +
                                 std::to_string(target.size(0)) + " in the model");
}

std::string list(const std::vector<std::string>& names) {
  std::string out = std::to_string(names.size());
  if (names.empty()) return out;
  out += " (";
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 5) out += ", ...";
  return out + ")";
}

}  // namespace

NamedTensors named_tensors(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters()) out[item.key()] = item.value();
  for (const auto& item : module.named_buffers()) out[item.key()] = item.value();
  return out;
}

NamedTensors read_weights_file(const std::string& path) {
  if (!path_present(path)) {
    throw DataError("model.init_weights: weights file '" + path + "' does not exist");
  }
  std::string bytes;
  try {
    // Read once, as a regular file only (a FIFO would block, a directory is no archive).
    bytes = read_input_file(path);
  } catch (const DataError& e) {
    throw DataError(std::string("model.init_weights: ") + e.what());
  }
  NamedTensors out;
  // A moedil checkpoint is sealed: its archive is used only when its checksum matches.
  if (const auto archive = unseal(bytes, kCheckpointSeal, path)) {
    if (read_archive(*archive, out)) return out;
    throw DataError("'" + path + "': its checksum matches but its archive cannot be read");
  }
  if (auto saved = read_torch_save(bytes, path); saved && !saved->empty()) {
    return without_wrapper(std::move(*saved));
  }
  if (read_pickle(bytes, out) || read_archive(bytes, out)) return out;
  throw DataError("model.init_weights: '" + path +
                  "' is neither a LibTorch archive (torch::save, moedil checkpoint.pt) nor a "
                  "state dict saved with torch.save");
}

WeightsMatch load_named_tensors(torch::nn::Module& module, const NamedTensors& given,
                                const std::string& source, const UpcycleOptions& upcycle) {
  WeightsMatch match;
  const NamedTensors targets = named_tensors(module);
  std::set<std::string> names;
  int64_t shared_blocks = 0;
  for (const auto& item : targets) {
    names.insert(item.first);
    const std::vector<std::string> p = parts_of(item.first);
    if (p.size() > 2 && p[0] == "blocks" && digits(p[1])) {
      shared_blocks = std::max<int64_t>(shared_blocks, std::stoll(p[1]) + 1);
    }
  }
  RenamedWeights renamed = to_moedil_names(given, names);
  match.naming = renamed.naming;
  const NamedTensors& weights = renamed.weights;
  std::set<std::string> used;  // file tensors copied somewhere
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      const std::string from = upcycle_source(name, shared_blocks);
      const auto source_it = from.empty() ? weights.end() : weights.find(from);
      if (source_it != weights.end() && source_it->second.sizes() == target.sizes()) {
        at::Tensor copy = source_it->second.to(target.options());
        if (upcycle.noise > 0.0 && copy.is_floating_point() && copy.numel() > 1) {
          copy = copy + at::randn_like(copy) * (upcycle.noise * copy.std().item<double>());
        }
        target.copy_(copy);
        match.matched.push_back(name);
        match.upcycled.push_back(name + " <- " + from);
        used.insert(from);
      } else if (source_it != weights.end()) {
        used.insert(from);
        match.mismatched.push_back(name);
        note_replaced_head(match, name, source_it->second, target);
      } else {
        match.missing.push_back(name);
      }
    } else if (it->second.sizes() != target.sizes()) {
      used.insert(name);
      std::string how;
      const at::Tensor resized =
          name == "pos_embed" ? resample_position_embedding(it->second, target,
                                                            match.naming == "torchvision", how)
                              : at::Tensor();
      if (resized.defined()) {
        target.copy_(resized);
        match.matched.push_back(name);
        match.resampled.push_back(name + " " + how);
      } else {
        match.mismatched.push_back(name);
        note_replaced_head(match, name, it->second, target);
      }
    } else {
      used.insert(name);
      target.copy_(it->second);
      match.matched.push_back(name);
    }
  }
  for (const auto& [name, tensor] : weights) {
    if (!targets.count(name) && !used.count(name)) match.unexpected.push_back(name);
  }
  if (match.matched.empty()) {
    throw DataError("model.init_weights: no tensor of '" + source +
                    "' matches the model by name and shape: " + describe(match));
  }
  return match;
}

bool backbone_tensor(const std::string& name) {
  const std::vector<std::string> p = parts_of(name);
  return !head_tensor(name) && std::none_of(p.begin(), p.end(), [](const std::string& part) {
    return part == "router" || part == "experts" || part == "shared_experts";
  });
}

std::size_t freeze_backbone(torch::nn::Module& module) {
  std::size_t frozen = 0;
  for (const auto& item : module.named_parameters()) {
    if (!backbone_tensor(item.key())) continue;
    at::Tensor tensor = item.value();
    tensor.set_requires_grad(false);
    ++frozen;
  }
  return frozen;
}

std::string describe(const WeightsMatch& m) {
  const std::size_t total = m.matched.size() + m.missing.size() + m.mismatched.size();
  return "matched " + std::to_string(m.matched.size()) + " of " + std::to_string(total) +
         " model tensors; missing " + list(m.missing) + "; unexpected " + list(m.unexpected) +
         "; shape mismatch " + list(m.mismatched) +
         (m.resampled.empty() ? "" : "; resampled " + list(m.resampled)) +
         (m.upcycled.empty() ? "" : "; upcycled " + list(m.upcycled)) +
         (m.naming == "moedil" ? "" : "; " + m.naming + " names");
}

}  // namespace moedil::model
