#pragma once
// LibTorch's thread count set for one test's scope and restored after it (tests that compare
// results on one and two threads, or check that work is shared out).
#include <ATen/Parallel.h>

namespace moedil::testing {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : before_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadCount() { at::set_num_threads(before_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int before_;
};

}  // namespace moedil::testing
