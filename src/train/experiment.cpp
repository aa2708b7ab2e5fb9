#include "moedil/train/experiment.h"

#include "moedil/train/precision.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <ATen/Parallel.h>
#include <spdlog/logger.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "moedil/common/error.h"
#include "moedil/data/registry.h"
#include "moedil/config/overrides.h"
#include "moedil/io/free_space.h"
#include "moedil/io/logging.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/run_lock.h"
#include "moedil/io/run_id.h"
#include "moedil/model/registry.h"
#include "moedil/model/weights_file.h"
#include "moedil/partition/registry.h"
#include "moedil/train/checkpoint.h"
#include "moedil/train/loss.h"
#include "moedil/train/observers.h"
#include "moedil/train/replay.h"
#include "moedil/train/scheduler.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/trainer.h"

namespace moedil::train {
namespace {

std::string command_output(const char* command) {
  std::array<char, 256> buffer{};
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command, "r"), pclose);
  if (!pipe) return out;
  while (fgets(buffer.data(), buffer.size(), pipe.get())) out += buffer.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string host_name() {
  std::array<char, 256> name{};
  return gethostname(name.data(), name.size() - 1) == 0 ? std::string(name.data()) : "";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

config::NameCatalog name_catalog() {
  return {data::dataset_registry().names(), partition::partition_registry().names(),
          model::model_registry().names(),   optimizer_registry().names(),
          loss_registry().names(),           scheduler_names(),
          replay_policy_names()};
}

c10::Device resolve_device(const std::string& device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  const bool cuda = torch::cuda::is_available();
  if (device == "auto") return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  const c10::Device requested(device);
  if (!cuda) {
    throw ConfigError("device: '" + device +
                      "' requested but no CUDA device is available to this LibTorch build "
                      "(use device \"cpu\" or \"auto\")");
  }
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (requested.has_index() && requested.index() >= count) {
    throw ConfigError("device: '" + device + "' requested but only " + std::to_string(count) +
                      " CUDA device(s) are present");
  }
  return requested.has_index() ? requested : c10::Device(c10::kCUDA, 0);
}

int64_t resolve_num_threads(int64_t num_threads) {
  if (num_threads > 0) return num_threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int64_t>(cores) : 1;
}

RunResult run_experiment(const config::RunConfig& c, const RunPlace& place) {
  auto log = io::logger();
  const c10::Device device = resolve_device(c.device);
  const int64_t threads = resolve_num_threads(c.num_threads);
  at::set_num_threads(static_cast<int>(threads));
  configure_backends(device);

  // Everything that can fail on bad input happens before the run directory exists, so a bad
  // config or missing dataset leaves no run behind.
  RunResult result;
  const auto data_start = std::chrono::steady_clock::now();
  const data::Dataset dataset = data::make_dataset(c);
  const std::vector<partition::Domain> domains = partition::make_domains(dataset, c);
  const double data_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();
  const model::InputShape input{dataset.channels(), dataset.height(), dataset.width(),
                                dataset.num_classes};
  model::NamedTensors init_weights;
  if (!c.model.init_weights.empty()) init_weights = model::read_weights_file(c.model.init_weights);
  bool weights_reported = false;
  const ModelFactory make_model = [&c, input, device, &init_weights, &weights_reported, log] {
    torch::manual_seed(static_cast<uint64_t>(c.seeds.model));
    model::Classifier m = model::make_model(c.model, input);
    if (!init_weights.empty()) {
      const model::WeightsMatch match =
          model::load_named_tensors(*m, init_weights, c.model.init_weights);
      if (!weights_reported) {
        log->info("[model] init_weights {}: {}", c.model.init_weights, model::describe(match));
        weights_reported = true;
      }
    }
    m->to(device);
    return m;
  };
  // Building the trainer builds the model, optimizer, loss and schedule: their config errors
  // surface here, before any run directory exists.
  Trainer trainer(c, domains, make_model, device, dataset.num_classes, dataset.mean,
                  dataset.stddev, result.record);

  io::RunRecord& record = result.record;
  // Checkpoints are rewritten through a temp file, so two must fit at once, with room to spare.
  const int64_t checkpoint_bytes = estimate_checkpoint_bytes(*trainer.model(), 2, 1 << 20);
  const std::filesystem::path parent =
      place.run_dir.empty() ? std::filesystem::path(c.results_dir) / c.config_name
                            : place.run_dir;
  io::require_free_space(parent, 2 * checkpoint_bytes + (16 << 20),
                         "this run's checkpoints and results");
  io::RunDir run_dir;
  if (place.run_dir.empty()) {
    run_dir = io::create_run_dir(parent, c.model.name, c.dataset);
  } else {
    // "runs/x/" names the directory x, like "runs/x".
    const std::filesystem::path dir =
        place.run_dir.filename().empty() ? place.run_dir.parent_path() : place.run_dir;
    run_dir = {dir.filename().string(), dir};
    if (!place.resume && std::filesystem::exists(run_dir.dir / "run.json")) {
      throw UsageError(run_dir.dir.string() + " already holds a run; continue it with "
                       "moedil run --resume " + run_dir.dir.string() + " or choose another --run-dir");
    }
    std::error_code ec;
    std::filesystem::create_directories(run_dir.dir, ec);
    if (ec) throw IoError("cannot create run directory " + run_dir.dir.string() + ": " + ec.message());
  }
  std::optional<io::RunLock> lock = io::RunLock::try_acquire(run_dir.dir);
  if (!lock) {
    throw UsageError(run_dir.dir.string() + " is being run by another live moedil process");
  }
  // Under the lock nobody else writes here: a temp file is what a killed writer left behind
  // (a SIGKILL during a checkpoint rewrite leaves a full-size one).
  const std::vector<std::filesystem::path> stale = io::remove_stale_temp_files(run_dir.dir);
  const std::filesystem::path checkpoint = run_dir.dir / "checkpoint.pt";
  trainer.enable_checkpoints(checkpoint);
  result.run_id = run_dir.id;
  result.run_json = run_dir.dir / "run.json";
  result.log_file = std::filesystem::path(c.log_dir) / (run_dir.id + ".log");
  const auto log_sink = io::attach_log_file(result.log_file);
  struct Detach {
    std::shared_ptr<spdlog::sinks::sink> sink;
    ~Detach() { io::detach_log_file(sink); }
  } detach{log_sink};

  const bool resuming = place.resume && std::filesystem::exists(checkpoint);
  std::string started = io::utc_now_iso();
  if (place.resume && std::filesystem::exists(result.run_json)) {
    started = io::read_run_record(result.run_json.string()).run.started;
  }
  if (resuming) trainer.resume(checkpoint);  // replaces the record with the checkpoint's
  io::RunInfo& info = record.run;
  info.id = run_dir.id;
  info.config_name = c.config_name;
  info.config = config::to_json(c);
  info.seeds = info.config["seeds"];
  info.device = device.str();
  info.num_threads = threads;
  info.torch_version = TORCH_VERSION;
  info.git = command_output("git describe --always --dirty 2>/dev/null");
  info.host = host_name();
  info.started = started;
  info.finished.clear();
  info.status = "running";
  info.error.clear();
  info.num_parameters = model::count_parameters(*trainer.model());

  log->info("[run] {} ({})", info.id, c.config_name);
  if (resuming) {
    log->info("[run] resumed from {} after {} finished epochs", checkpoint.string(),
              record.epochs.size());
  } else if (place.resume) {
    log->info("[run] {} has no checkpoint yet: starting it from the beginning",
              run_dir.dir.string());
  }
  for (const auto& path : stale) {
    log->info("[run] removed {}, left by a writer that was killed", path.string());
  }
  log->info("[run] results {}  log {}", result.run_json.string(), result.log_file.string());
  log->info("[data] {}: {} images {}x{}x{}, {} classes, loaded in {:.1f}s", dataset.name,
            dataset.size(), dataset.channels(), dataset.height(), dataset.width(),
            dataset.num_classes, data_seconds);
  log->info("[data] {} domains ({}): {} train / {} test images each", domains.size(),
            c.partition.type, domains.front().train_idx.numel(), domains.front().test_idx.numel());
  std::vector<std::string> names;
  for (const auto& d : domains) names.push_back(d.name);
  log->info("[data] domains: {}", join(names));
  log->info("[model] {}: {} parameters", c.model.name, info.num_parameters);
  log->info("[optim] {} lr {} weight_decay {}, scheduler {}, loss {}; {} epochs per domain, "
            "batch size {}",
            c.optimizer.name, c.optimizer.lr, c.optimizer.weight_decay, c.scheduler.name,
            c.loss.name, c.epochs_per_domain, c.batch_size);
  if (c.replay.enabled) {
    log->info("[replay] {} memory of {} samples, {} replayed per new sample", c.replay.policy,
              c.replay.capacity, c.replay.ratio);
  }
  log->info("[seeds] global {} dataset {} partition {} loader {} model {} training {} "
            "pretrain {} baseline {} replay {}",
            c.seeds.global, c.seeds.dataset, c.seeds.partition, c.seeds.loader, c.seeds.model,
            c.seeds.training, c.seeds.pretrain, c.seeds.baseline, c.seeds.replay);
  log->info("[device] {} with {} threads, LibTorch {}", info.device, threads, TORCH_VERSION);

  ResultsWriter writer(result.run_json);
  ProgressLine progress;
  EpochLogger epoch_logger;
  std::exception_ptr failure;
  try {
    trainer.add_observer(&progress);
    trainer.add_observer(&epoch_logger);
    trainer.add_observer(&writer);
    writer.write(record);
    if (!resuming) trainer.evaluate_initial();
    if (c.pretrain.enabled && !resuming) {
      trainer.pretrain();
      log->info("[pretrain] {} samples, {} epochs: train_acc {:.4f}, {:.1f}s",
                record.pretrain->num_samples, record.pretrain->epochs, record.pretrain->train_acc,
                record.pretrain->seconds);
      writer.write(record);
    }
    if (c.baseline.enabled && !resuming) {
      trainer.run_baselines();
      std::string accs;
      for (double a : *record.baseline_acc) accs += fmt::format(" {:.4f}", a);
      log->info("[baseline] accuracy of each domain trained alone:{}", accs);
      writer.write(record);
    }
    trainer.run();
    info.status = "completed";
  } catch (const InterruptedError& e) {
    info.status = "interrupted";
    info.error = e.what();
    failure = std::current_exception();
  } catch (const std::exception& e) {
    info.status = "failed";
    info.error = e.what();
    failure = std::current_exception();
  }
  info.finished = io::utc_now_iso();
  writer.write(record);
  if (failure) {
    log->error("[run] {} {}: {} (partial results kept in {})", info.id, info.status, info.error,
               result.run_json.string());
    std::rethrow_exception(failure);
  }
  log->info("[result] {}", metrics::to_string(*record.metrics));
  log->info("[run] completed: {}", result.run_json.string());
  return result;
}

io::RunRecord read_saved_run(const std::filesystem::path& run_dir) {
  const std::filesystem::path run_json = run_dir / "run.json";
  if (!std::filesystem::exists(run_json)) {
    throw DataError(run_dir.string() + " holds no run.json: not a moedil run directory");
  }
  return io::read_run_record(run_json.string());
}

config::RunConfig config_of_run(const io::RunRecord& saved, const std::filesystem::path& run_dir,
                                const std::vector<std::string>& overrides) {
  nlohmann::json j = saved.run.config;
  for (const auto& assignment : overrides) {
    // Anything else would make the continued run a different experiment.
    if (assignment.rfind("device=", 0) != 0 && assignment.rfind("num_threads=", 0) != 0) {
      throw UsageError("a saved run keeps its config; only --device and --threads may change ('" +
                       assignment + "')");
    }
    config::apply_override(j, assignment);
  }
  config::RunConfig c = config::resolve_run_config(
      j, name_catalog(), "", (run_dir / "run.json").string() + " (run.config)");
  c.config_name = saved.run.config_name;
  return c;
}

RunResult resume_experiment(const std::filesystem::path& run_dir,
                            const std::vector<std::string>& overrides) {
  io::RunRecord saved = read_saved_run(run_dir);
  if (saved.run.status == "completed") {
    io::logger()->info("[run] {} is already completed; nothing to resume", run_dir.string());
    RunResult result;
    result.run_id = saved.run.id;
    result.run_json = run_dir / "run.json";
    result.record = std::move(saved);
    return result;
  }
  return run_experiment(config_of_run(saved, run_dir, overrides), RunPlace{run_dir, true});
}

}  // namespace moedil::train
