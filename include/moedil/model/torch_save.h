#pragma once
// Python's torch.save files (the zip format, PyTorch >= 1.6): the tensors of a pickled state
// dict. LibTorch's own unpickler reads neither an OrderedDict (what model.state_dict() is) nor
// a dict of one entry (pickle's SETITEM), which is every state dict a user has; this reader
// runs the few pickle opcodes torch.save writes for dicts, lists, tuples, numbers, strings and
// tensors, and refuses anything else by name (it never runs code from the file).
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <ATen/core/Tensor.h>

namespace moedil::model {

/// The tensors of a torch.save zip archive in `bytes`, keyed by their dotted path in the
/// pickled object: a state dict's own names; nested dicts and lists join their keys with '.'
/// ({"model": {"w": t}} -> "model.w"). nullopt when `bytes` is not a zip archive holding a
/// data.pkl record (another format). Throws DataError naming `path` when the pickle holds
/// what a state dict never does (a class other than OrderedDict, tensors and storages), is
/// truncated, or is big-endian.
std::optional<std::map<std::string, at::Tensor>> read_torch_save(std::string_view bytes,
                                                                 const std::string& path);

/// A state dict of `tensors` (CPU, contiguous copies) in torch.save's zip format: Python's
/// torch.load reads it as the OrderedDict that model.state_dict() is, also with
/// weights_only=True (PyTorch >= 2.6's default: only torch._utils._rebuild_tensor_v2,
/// collections.OrderedDict and the storage classes are named). Throws DataError for a dtype
/// that has no storage class (complex, quantised).
std::string write_torch_save(const std::map<std::string, at::Tensor>& tensors);

}  // namespace moedil::model
