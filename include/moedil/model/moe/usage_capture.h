#pragma once
// Evaluation counters of the MoE layers, kept aside while batches are evaluated on several
// threads at once. A Mixture's evaluation forward adds to the mixture's own counters (usage,
// dropped rows, routing entropy); with a UsageCapture alive on the calling thread it appends
// what it would have added to the capture instead and changes nothing in the mixture. The
// evaluator then applies the captured updates batch by batch, in batch order (Mixture::
// add_usage): the same additions in the same order as evaluating the batches one after the
// other, so the counters come out bit for bit the same whichever thread ran which batch.
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace moedil::model::moe {

class Mixture;

/// What one forward adds to a mixture's counters.
struct UsageDelta {
  at::Tensor used;     ///< int64 [E]: rows run by each expert
  at::Tensor dropped;  ///< int64 []: rows that went to no expert; undefined without a capacity
  at::Tensor entropy;  ///< summed routing entropy of the rows (nats)
  int64_t rows = 0;    ///< rows routed
};

/// Captures the evaluation forwards' counter updates on the thread that creates it, for as long
/// as it lives (not copyable; captures nest, the inner one wins and the outer one is restored).
class UsageCapture {
 public:
  struct Entry {
    Mixture* mixture = nullptr;
    UsageDelta delta;
  };

  UsageCapture();
  ~UsageCapture();
  UsageCapture(const UsageCapture&) = delete;
  UsageCapture& operator=(const UsageCapture&) = delete;

  /// The capture alive on this thread, or null.
  static UsageCapture* active();
  void add(Mixture* mixture, UsageDelta delta);
  /// The updates in the order the forwards made them, and forgets them.
  std::vector<Entry> take();

 private:
  UsageCapture* previous_;
  std::vector<Entry> entries_;
};

}  // namespace moedil::model::moe
