#pragma once
// The process-wide stop request. SIGINT/SIGTERM handlers store their signal number here; every
// long phase of a run (loading files, decoding images, partitioning, building the model,
// evaluating, training) polls it between chunks of work, so a stop ends any phase within
// seconds with InterruptedError (exit 128 + signal).
#include <atomic>
#include <string_view>

namespace moedil {

/// 0 while the process may go on; otherwise the signal that asked it to stop (2 or 15).
std::atomic<int>& stop_flag();

/// Throws InterruptedError("interrupted while <doing>" ...) carrying the signal when a stop was
/// requested; returns at once (one atomic load) otherwise. `doing` says what was cut short,
/// e.g. "loading train-images-idx3-ubyte.gz".
void throw_if_stopped(std::string_view doing);

}  // namespace moedil
