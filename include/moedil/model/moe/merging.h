#pragma once
// Expert merging (config expert_merging): every every_steps training steps, the least selected
// expert of an MoE layer is replaced by the average of the two most selected ones, selection
// being counted per domain (Mixture::selection_counts). The trainer also resets the replaced
// expert's optimizer state.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>

namespace moedil::model::moe {

struct MergeChoice {
  int64_t target = -1;  ///< the least selected expert, overwritten
  int64_t first = -1;   ///< the most selected expert
  int64_t second = -1;  ///< the second most selected expert
};

/// From per-expert selection counts (at least 3 experts): the target is the least selected
/// (ties: the highest index), the sources the two most selected of the others (ties: the lowest
/// index). Throws std::invalid_argument for fewer than 3 experts.
MergeChoice choose_merge(const std::vector<int64_t>& counts);

/// True when every expert has the same parameter and buffer names and shapes (experts of one
/// architecture), so any two can be averaged into a third.
bool experts_mergeable(const torch::nn::ModuleList& experts);

/// experts[target]'s parameters and floating-point buffers := the mean of experts[first]'s and
/// experts[second]'s; integer buffers (BatchNorm's num_batches_tracked) are copied from first.
/// Without gradient tracking. Returns the target's parameters (whose optimizer state must go).
std::vector<at::Tensor> merge_experts(torch::nn::ModuleList& experts, const MergeChoice& choice);

}  // namespace moedil::model::moe
