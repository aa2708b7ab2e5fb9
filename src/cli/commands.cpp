#include "moedil/cli/commands.h"

#include <csignal>
#include <functional>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <spdlog/logger.h>

#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"
#include "moedil/config/load.h"
#include "moedil/config/model_families.h"
#include "moedil/data/registry.h"
#include "moedil/io/logging.h"
#include "moedil/model/moe/balance.h"
#include "moedil/model/registry.h"
#include "moedil/partition/registry.h"
#include "moedil/train/eval_run.h"
#include "moedil/train/export_run.h"
#include "moedil/train/experiment.h"
#include "moedil/train/strategies/registry.h"
#include "moedil/train/footprint.h"
#include "moedil/train/loss.h"
#include "moedil/train/replay.h"
#include "moedil/train/scheduler.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/trainer.h"

namespace moedil::cli {
namespace {

void request_stop(int signal) { train::stop_requested().store(signal); }

config::RunConfig load(const std::string& path, std::vector<std::string> overrides,
                       const std::optional<std::string>& device,
                       const std::optional<int64_t>& seed, const std::optional<int64_t>& threads) {
  if (device) overrides.push_back("device=\"" + *device + "\"");
  if (seed) overrides.push_back("seeds.global=" + std::to_string(*seed));
  if (threads) overrides.push_back("num_threads=" + std::to_string(*threads));
  config::RunConfig c = config::load_run_config(path, overrides, train::name_catalog());
  // Before anything is created or allocated: a config too large for this machine fails here.
  train::check_memory(c, excerpt(path, 400));
  return c;
}

/// `text` broken into lines of at most `width` characters at spaces, each after `indent`.
std::string wrapped(const std::string& text, std::size_t indent, std::size_t width) {
  std::string out;
  std::size_t column = indent;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (column > indent && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    start = end + 1;
  }
  return out;
}

/// Prints each entry's name and description, followed by more(name) when given.
template <class R>
void print_registry(const char* title, const R& registry,
                    const std::function<std::string(const std::string&)>& more = {}) {
  constexpr std::size_t kNameWidth = 20;
  std::cout << title << ":\n";
  for (const auto& entry : registry.entries()) {
    std::cout << "  " << entry.name;
    if (entry.name.size() + 1 > kNameWidth) {
      std::cout << "\n" << std::string(2 + kNameWidth, ' ');
    } else {
      std::cout << std::string(kNameWidth - entry.name.size(), ' ');
    }
    std::cout << wrapped(entry.description + (more ? more(entry.name) : std::string()),
                         2 + kNameWidth, 100)
              << "\n";
  }
}

}  // namespace

int run_run(const RunOptions& options) {
  if (!options.resume_dir.empty()) {
    if (!options.config_path.empty() || !options.overrides.empty() || options.seed ||
        !options.run_dir.empty()) {
      throw UsageError("--resume continues a run with the config saved in it: give no config, "
                       "--set, --seed or --run-dir with it (only --device and --threads)");
    }
    std::vector<std::string> overrides;
    if (options.device) overrides.push_back("device=\"" + *options.device + "\"");
    if (options.threads) overrides.push_back("num_threads=" + std::to_string(*options.threads));
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    train::resume_experiment(options.resume_dir, overrides);
    return 0;
  }
  if (options.config_path.empty()) {
    throw UsageError("moedil run needs a config file (or --resume RUN_DIR); see moedil run --help");
  }
  if (invalid_utf8_offset(options.run_dir) != std::string::npos) {
    // Its name becomes the run id, stored as text in run.json.
    throw UsageError("--run-dir '" + excerpt(options.run_dir, 400) +
                     "' is not valid UTF-8: choose a directory name that is text");
  }
  const config::RunConfig c =
      load(options.config_path, options.overrides, options.device, options.seed, options.threads);
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  train::run_experiment(c, train::RunPlace{options.run_dir, false});
  return 0;
}

int run_eval(const EvalOptions& options) {
  std::vector<std::string> overrides;
  if (options.device) overrides.push_back("device=\"" + *options.device + "\"");
  if (options.threads) overrides.push_back("num_threads=" + std::to_string(*options.threads));
  if (options.dump_inputs && options.dump_dir.empty()) {
    throw UsageError("--dump-inputs needs --dump DIR");
  }
  std::optional<train::EvalDump> dump;
  if (!options.dump_dir.empty()) dump = train::EvalDump{options.dump_dir, options.dump_inputs};
  const train::RunEvaluation result = train::evaluate_run(
      options.run_dir, overrides, options.fixed_experts, dump ? &*dump : nullptr);
  auto log = io::logger();
  std::string fixed;
  for (const auto& spec : options.fixed_experts) fixed += " " + spec;
  log->info("[eval] {}: weights after {} epochs{}", result.run_id, result.epochs_trained,
            fixed.empty() ? "" : ", fixed experts" + fixed);
  double mean = 0.0;
  for (std::size_t j = 0; j < result.eval.size(); ++j) {
    const io::EvalRecord& v = result.eval[j];
    mean += v.acc / static_cast<double>(result.eval.size());
    if (j < result.recorded_acc.size()) {
      log->info("[eval] {:<16} acc {:.4f} (run.json {:.4f})  loss {:.4f}", v.domain, v.acc,
                result.recorded_acc[j], v.loss);
    } else {
      log->info("[eval] {:<16} acc {:.4f}  loss {:.4f}", v.domain, v.acc, v.loss);
    }
  }
  log->info("[eval] mean acc {:.4f}; written to {}", mean, result.written.string());
  if (dump) log->info("[eval] arrays (.npy) and index.json in {}", dump->dir.string());
  return 0;
}

int run_export(const ExportOptions& options) {
  const train::ExportResult result =
      train::export_run(options.run_dir, options.state_dict, options.naming);
  io::logger()->info("[export] {} tensors of the {} model in {} ({} names); in Python: "
                     "model.load_state_dict(torch.load('{}'))",
                     result.tensors, result.model, options.state_dict, options.naming,
                     options.state_dict);
  return 0;
}

int run_validate(const ValidateOptions& options) {
  const config::RunConfig c = load(options.config_path, options.overrides, {}, {}, {});
  if (options.print) {
    std::cout << config::to_json(c).dump(2) << "\n";
  } else {
    io::logger()->info("{}: valid{}", options.config_path,
                       c.notes.empty() || options.explain
                           ? ""
                           : fmt::format(" ({} notes on predecessor keys: --explain prints them)",
                                         c.notes.size()));
  }
  if (options.explain) {
    if (c.notes.empty()) std::cout << "no predecessor key here reads differently from what its "
                                      "name suggests\n";
    for (const std::string& note : c.notes) std::cout << "note: " << note << "\n";
  }
  return 0;
}

int run_list() {
  print_registry("datasets (dataset)", data::dataset_registry());
  print_registry("partition types (partition.type)", partition::partition_registry());
  print_registry("models (model.name)", model::model_registry(), [](const std::string& name) {
    // The keys a family reads; any other model key set in a config is an error.
    const config::ModelFamily* family = config::find_model_family(name);
    if (!family) return std::string();
    std::string keys;
    for (const auto& key : family->keys) keys += (keys.empty() ? "" : ", ") + key;
    return ". Reads: " + keys;
  });
  std::cout << "  " << wrapped("Every family that routes shares the routing core: moe_top_k, "
                               "moe_noise_std, moe_capacity_factor, moe_routing (token_choice, "
                               "expert_choice), moe_expert_dropout, moe_balance_losses (below); "
                               "and expert_merging {enabled, every_steps}. Every key: "
                               "configs/example.jsonc; one example per family: "
                               "configs/<family>.jsonc.",
                               2, 100)
            << "\n";
  print_registry("balance losses (model.moe_balance_losses: {name: weight})",
                 model::moe::balance_loss_registry());
  print_registry("optimizers (optimizer.name)", train::optimizer_registry());
  print_registry("losses (loss.name)", train::loss_registry());
  print_registry("schedulers (scheduler.name; each with warmup_epochs, per_domain)",
                 train::scheduler_registry());
  print_registry("replay policies (replay.policy; a memory of sample indices, replayed as a "
                 "separate batch or, replay.mode mixed, mixed into every batch at replay.ratio)",
                 train::replay_policy_registry());
  print_registry("continual-learning strategies (strategy: a name or a list; none = "
                 "fine-tuning)",
                 train::strategy_registry());
  return 0;
}

int exit_code_for(const std::exception& e) {
  if (dynamic_cast<const UsageError*>(&e) || dynamic_cast<const ConfigError*>(&e) ||
      dynamic_cast<const DataError*>(&e)) {
    return 2;
  }
  if (const auto* stop = dynamic_cast<const InterruptedError*>(&e)) return 128 + stop->signal();
  return 1;
}

}  // namespace moedil::cli
