#include "moedil/model/moe/usage_capture.h"

#include <utility>

namespace moedil::model::moe {

namespace {
thread_local UsageCapture* current = nullptr;
}  // namespace

UsageCapture::UsageCapture() : previous_(current) { current = this; }

UsageCapture::~UsageCapture() { current = previous_; }

UsageCapture* UsageCapture::active() { return current; }

void UsageCapture::add(Mixture* mixture, UsageDelta delta) {
  entries_.push_back({mixture, std::move(delta)});
}

std::vector<UsageCapture::Entry> UsageCapture::take() {
  std::vector<Entry> out;
  out.swap(entries_);
  return out;
}

}  // namespace moedil::model::moe
