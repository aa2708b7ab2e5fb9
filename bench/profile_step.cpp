// Where a training step and an evaluation forward of bench/peer_moedil.jsonc's model spend
// their time, op by op (LibTorch's autograd profiler): the table behind the profile in
// bench/README.md ("Against a Python peer"). Random inputs of the peer's shapes (batch 64 of
// 1x28x28, 10 classes); the model and optimizer are read from bench/peer_moedil.jsonc.
//   build/bench/profile_step [STEPS] [CONFIG]   (default 50 and bench/peer_moedil.jsonc, from
//                                                the source tree; the first 5 are not profiled)
// Prints self CPU time per op name, largest first, for the training steps and for as many
// evaluation forwards.
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/utils.h>

#include "moedil/config/load.h"
#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"
#include "moedil/train/experiment.h"
#include "moedil/train/optimizer.h"

namespace {

using namespace moedil;

/// Self time per op name from a chrome trace written by RecordProfile: complete events ("X")
/// with ts/dur in microseconds; self = own duration minus that of the events nested in it.
void print_table(const std::string& trace, const std::string& title, int steps) {
  std::ifstream in(trace);
  const nlohmann::json events = nlohmann::json::parse(in);
  struct Ev { double ts, dur; std::string name; };
  std::map<long, std::vector<Ev>> by_thread;
  for (const auto& e : events) {
    if (!e.is_object() || e.value("ph", "") != "X") continue;
    by_thread[e.value("tid", 0L)].push_back(
        {e.at("ts").get<double>(), e.at("dur").get<double>(), e.at("name").get<std::string>()});
  }
  std::map<std::string, std::pair<double, long>> self;  // name -> (self us, calls)
  double total = 0;
  for (auto& [tid, evs] : by_thread) {
    std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
      return a.ts != b.ts ? a.ts < b.ts : a.dur > b.dur;
    });
    std::vector<std::pair<const Ev*, double>> stack;  // event, time of its children
    const auto close = [&](double upto) {
      while (!stack.empty() && stack.back().first->ts + stack.back().first->dur <= upto) {
        const auto [ev, children] = stack.back();
        stack.pop_back();
        auto& s = self[ev->name];
        s.first += ev->dur - children;
        s.second += 1;
        if (stack.empty()) total += ev->dur;
        else stack.back().second += ev->dur;
      }
    };
    for (const Ev& e : evs) {
      close(e.ts);
      stack.push_back({&e, 0.0});
    }
    close(1e300);
  }
  std::vector<std::pair<std::string, std::pair<double, long>>> rows(self.begin(), self.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::printf("\n%s: %.2f ms per step in profiled ops\n", title.c_str(), total / 1000.0 / steps);
  std::printf("%-44s %10s %8s %7s\n", "op", "self ms/step", "calls/step", "share");
  for (std::size_t i = 0; i < rows.size() && i < 25; ++i) {
    std::printf("%-44s %10.3f %8.1f %6.1f%%\n", rows[i].first.substr(0, 44).c_str(),
                rows[i].second.first / 1000.0 / steps, double(rows[i].second.second) / steps,
                100.0 * rows[i].second.first / total);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // The profiler's own allocations keep glibc's dynamic mmap threshold low: every step's
  // activations were fresh mmaps, faulted in again (140-157 ms per step against 82-93 ms),
  // which a moedil run hardly pays (the same settings in moedil cut its page faults from
  // ~150,000 to 90,000 but not its time). Kept on the heap here, so the table shows the ops'
  // cost as a run pays it.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 50;
  const std::string path = argc > 2 ? argv[2] : MOEDIL_SOURCE_DIR "/bench/peer_moedil.jsonc";
  const config::RunConfig c = config::load_run_config(path, {}, train::name_catalog());
  at::set_num_threads(static_cast<int>(c.num_threads > 0 ? c.num_threads : 2));
  torch::manual_seed(0);
  const model::InputShape input{1, 28, 28, 10};
  model::Classifier net = model::make_model(c.model, input);
  // The optimizer a run of this config builds (train/optimizer.h: "adamw" is FusedAdamW).
  const auto optimizer = train::make_optimizer(net->parameters(), c.optimizer);
  const at::Tensor x = at::randn({64, 1, 28, 28});
  const at::Tensor y = at::randint(10, {64}, at::kLong);
  const auto train_step = [&] {
    net->train();
    const at::Tensor logits = net->forward(x);
    at::Tensor loss = at::cross_entropy_loss(logits, y);
    const at::Tensor aux = net->aux_loss();
    if (aux.defined()) loss = loss + 0.01 * aux;
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  };
  const auto eval_step = [&] {
    net->eval();
    c10::InferenceMode inference;
    (void)net->forward(x).argmax(1);
  };
  for (int i = 0; i < 5; ++i) { train_step(); eval_step(); }
  {
    torch::autograd::profiler::RecordProfile guard("/tmp/profile_train.json");
    for (int i = 0; i < steps; ++i) train_step();
  }
  {
    torch::autograd::profiler::RecordProfile guard("/tmp/profile_eval.json");
    for (int i = 0; i < steps; ++i) eval_step();
  }
  print_table("/tmp/profile_train.json", "training step (forward, backward, AdamW)", steps);
  print_table("/tmp/profile_eval.json", "evaluation forward (inference mode)", steps);
  return 0;
}
