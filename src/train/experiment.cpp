#include "moedil/train/experiment.h"

#include "moedil/train/precision.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>

#include <ATen/Parallel.h>
#include <spdlog/logger.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "moedil/common/cpu_count.h"
#include "moedil/common/cpu_tuning.h"
#include "moedil/common/error.h"
#include "moedil/common/process_clock.h"
#include "moedil/common/stop.h"
#include "moedil/data/augment.h"
#include "moedil/data/batching.h"
#include "moedil/data/prototype_images.h"
#include "moedil/data/registry.h"
#include "moedil/config/overrides.h"
#include "moedil/config/pretrained.h"
#include "moedil/io/free_space.h"
#include "moedil/io/failure_note.h"
#include "moedil/io/logging.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/provenance.h"
#include "moedil/io/run_dir_hold.h"
#include "moedil/io/run_id.h"
#include "moedil/io/run_store.h"
#include "moedil/io/webhook.h"
#include "moedil/common/safe_file.h"
#include "moedil/model/moe/balance.h"
#include "moedil/model/registry.h"
#include "moedil/model/row_kernels.h"
#include "moedil/model/switch_vit.h"
#include "moedil/model/weights_file.h"
#include "moedil/partition/registry.h"
#include "moedil/partition/run_domains.h"
#include "moedil/train/checkpoint.h"
#include "moedil/train/loss.h"
#include "moedil/train/observers.h"
#include "moedil/train/strategies/registry.h"
#include "moedil/train/replay.h"
#include "moedil/train/scheduler.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/trainer.h"

namespace moedil::train {
namespace {

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
          loss_registry().names(),           scheduler_registry().names(),
          replay_policy_registry().names(),  model::moe::balance_loss_registry().names(),
          strategy_registry().names()};
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
  return num_threads > 0 ? num_threads : available_cpus();
}

namespace {

/// ConfigError unless run.json can record the config's strings (JSON needs valid UTF-8);
/// checked before anything is loaded or created.
void require_recordable(const config::RunConfig& c) {
  using json = nlohmann::json;
  const auto shown = [](const std::string& s) {
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  };
  try {
    (void)json(c.config_name).dump();
  } catch (const json::type_error&) {
    throw ConfigError("config file name " + shown(c.config_name) +
                      " is not valid UTF-8, so run.json cannot record it; rename the file");
  }
  try {
    (void)config::to_json(c).dump();
  } catch (const json::type_error& e) {
    throw ConfigError("config " + shown(c.config_name) +
                      ": a string in it is not valid UTF-8, so run.json cannot record it (" +
                      e.what() + ")");
  }
}

/// A stop that cut a continued run's start short (loading, building) is recorded in the
/// run.json of its earlier attempt, which otherwise keeps saying "running" (killed) or its old
/// status. Best effort: the stop is what matters.
void record_interrupted_start(const std::filesystem::path& run_json, const std::string& why) {
  try {
    if (!path_present(run_json)) return;
    io::RunRecord r = io::read_run_record(run_json.string(), io::RecordParts::epochs);
    if (r.run.status == "completed") return;
    r.run.status = "interrupted";
    r.run.error = why;
    r.run.finished = io::utc_now_iso();
    const io::RunStore store(run_json.parent_path());
    // A run directory from before schema 7 keeps its epochs inline: they move to the files.
    if (!path_present(run_json.parent_path() / io::kEpochsFile)) store.restore(r);
    store.write_summary(r);
  } catch (const std::exception&) {
  }
}

/// The config's notify: one POST when the run ends with an outcome it lists (io/webhook.h). A run
/// started by `moedil batch` (MOEDIL_BATCH_RUN set) leaves it to the batch's one summary. Never
/// throws: a notification never changes a run's outcome.
void notify_run_end(const config::RunConfig& c, const io::RunRecord& record,
                    const std::string& results) {
  const config::NotifyConfig& n = c.notify;
  const std::string& status = record.run.status;
  if (n.webhook_url.empty() || std::find(n.on.begin(), n.on.end(), status) == n.on.end()) return;
  auto log = io::logger();
  try {
    if (const char* batch = std::getenv("MOEDIL_BATCH_RUN"); batch != nullptr && *batch != 0) {
      log->info("[notify] left to the batch that started this run");
      return;
    }
    std::string text = "moedil run " + record.run.id + " (" + record.run.config_name + ") " +
                       status;
    if (record.metrics) text += ": " + metrics::to_string(*record.metrics);
    if (!record.run.error.empty()) text += ": " + record.run.error;
    text += "\n" + results;
    const nlohmann::json details = {
        {"run", record.run.id},       {"config", record.run.config_name},
        {"status", status},           {"error", record.run.error},
        {"started", record.run.started}, {"finished", record.run.finished},
        {"acc", record.metrics ? nlohmann::json(record.metrics->acc) : nlohmann::json(nullptr)},
        {"results", results}};
    const io::WebhookResult r = io::post_webhook(n.webhook_url, io::webhook_body(text, details));
    if (r.sent) {
      log->info("[notify] run {} sent to {}", status, io::redacted_url(n.webhook_url));
    } else {
      log->warn("[notify] not sent to {}: {}", io::redacted_url(n.webhook_url), r.error);
    }
  } catch (const std::exception& e) {
    log->warn("[notify] not sent: {}", e.what());
  }
}

/// The predecessor's model.num_classes and model.img_size, given, and the augmentation crops'
/// side: they must be the data's.
void check_against_data(const config::RunConfig& c, const model::InputShape& input,
                        const std::string& dataset) {
  const config::ModelConfig& m = c.model;
  data::Augmenter(c.augmentation).check_image_size(input.height, input.width);
  if (m.num_classes > 0 && m.num_classes != input.num_classes) {
    throw ConfigError("model.num_classes is " + std::to_string(m.num_classes) + " but " +
                      dataset + " has " + std::to_string(input.num_classes) +
                      " classes: set it to " + std::to_string(input.num_classes) +
                      " or leave it out (moedil takes the dataset's)");
  }
  if (m.img_size > 0 && (m.img_size != input.height || m.img_size != input.width)) {
    throw ConfigError("model.img_size is " + std::to_string(m.img_size) + " but the model sees " +
                      std::to_string(input.height) + "x" + std::to_string(input.width) +
                      " images (" + dataset + ", resize " +
                      "included): set resize to " + std::to_string(m.img_size) +
                      ", or leave model.img_size out (moedil takes the images' size)");
  }
}

/// The run itself, in `hold`'s directory when one is held already (an explicit run directory),
/// else in a fresh one created once everything that can fail on bad input has been built.
/// `started` becomes true once run.json has been written; from then on every outcome,
/// failures and stops included, is recorded in it (or, when it cannot be rewritten, in the
/// reserved failure note).
RunResult run_held(const config::RunConfig& c, const RunPlace& place,
                   std::optional<io::RunDirHold>& hold, bool& started) {
  auto log = io::logger();
  const c10::Device device = resolve_device(c.device);
  const int64_t threads = resolve_num_threads(c.num_threads);
  at::set_num_threads(static_cast<int>(threads));
  configure_backends(device);

  // Everything that can fail on bad input happens before a fresh run directory exists, so a
  // bad config or missing dataset leaves no run behind. Each phase polls the stop flag.
  RunResult result;
  const auto data_start = std::chrono::steady_clock::now();
  const data::Dataset dataset = data::make_dataset(c);
  partition::RunDomains run_domains = partition::make_run_domains(dataset, c);
  const std::vector<partition::Domain>& domains = run_domains.domains;
  const double data_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();
  const model::InputShape input{dataset.channels(), dataset.height(), dataset.width(),
                                dataset.num_classes};
  check_against_data(c, input, dataset.name);
  // The start: model.pretrained or model.init_weights (config/pretrained.h refuses both).
  const std::string& weights_path =
      c.model.pretrained.empty() ? c.model.init_weights : c.model.pretrained;
  const std::string weights_key = c.model.pretrained.empty() ? "init_weights" : "pretrained";
  model::NamedTensors init_weights;
  if (!c.model.pretrained.empty() && !path_present(c.model.pretrained)) {
    throw DataError(config::missing_pretrained_message(c.model.pretrained, c.weights_dir));
  }
  if (!weights_path.empty()) init_weights = model::read_weights_file(weights_path);
  // What the weights file gave the first model: logged once the run's log file exists.
  model::WeightsMatch weights_match;
  std::string weights_report;
  std::size_t frozen = 0;
  // The predecessor's switch prototypes from one image per class of each domain folder,
  // decoded and normalised as the dataset is.
  at::Tensor prototype_images;
  at::Tensor prototype_domains;
  std::vector<std::string> prototype_domain_names;
  if (!c.model.prototype_init_dataset.empty()) {
    if (dataset.channels() != 3) {
      throw ConfigError("model.prototype_init_dataset: needs a colour (3-channel) dataset; " +
                        dataset.name + " has " + std::to_string(dataset.channels()));
    }
    const data::Dataset chosen = data::first_image_per_class(
        c.model.prototype_init_dataset, dataset.height(),
        resolve_num_threads(c.num_workers > 0 ? c.num_workers : c.num_threads));
    if (chosen.height() != dataset.height() || chosen.width() != dataset.width()) {
      throw DataError("model.prototype_init_dataset: its images are " +
                      std::to_string(chosen.height()) + "x" + std::to_string(chosen.width()) +
                      ", the dataset's " + std::to_string(dataset.height()) + "x" +
                      std::to_string(dataset.width()) + " (set resize)");
    }
    prototype_images = data::Normalizer(dataset.mean, dataset.stddev, device)(
        chosen.images.to(device));
    prototype_domains = chosen.domain_ids.to(device);
    prototype_domain_names = chosen.domain_names;
  }
  int64_t prototypes_set = 0;
  const ModelFactory make_model = [&c, input, device, &init_weights, &weights_path,
                                   &weights_match, &weights_report, &frozen, &prototype_images,
                                   &prototype_domains, &prototypes_set] {
    torch::manual_seed(static_cast<uint64_t>(c.seeds.model));
    model::Classifier m = model::make_model(c.model, input);
    if (!init_weights.empty()) {
      model::WeightsMatch match = model::load_named_tensors(
          *m, init_weights, weights_path, model::UpcycleOptions{c.model.upcycle_noise});
      if (weights_report.empty()) {
        weights_report = model::describe(match);
        weights_match = std::move(match);
      }
    }
    if (c.model.freeze_backbone) frozen = model::freeze_backbone(*m);
    m->to(device);
    if (prototype_images.defined()) {
      auto* switch_vit = dynamic_cast<model::SwitchViTImpl*>(m.get());
      if (switch_vit == nullptr) {
        throw ConfigError("model.prototype_init_dataset: only switch_moe_vit has prototypes");
      }
      prototypes_set = switch_vit->init_prototypes_from_domains(prototype_images, prototype_domains);
    }
    return m;
  };
  throw_if_stopped("building the model");
  // Building the trainer builds the model, optimizer, loss and schedule: their config errors
  // surface here, before any run directory exists.
  Trainer trainer(c, domains, make_model, device, dataset.num_classes, dataset.mean,
                  dataset.stddev, result.record);
  const int64_t pretraining_drawn =
      run_domains.pretraining ? run_domains.pretraining->train_idx.numel() : 0;
  if (run_domains.pretraining) trainer.set_pretraining_set(std::move(*run_domains.pretraining));
  throw_if_stopped("building the model");

  io::RunRecord& record = result.record;
  // Checkpoints are rewritten through a temp file, so two must fit at once, with room to spare.
  const int64_t checkpoint_bytes = estimate_checkpoint_bytes(*trainer.model(), 2, 1 << 20);
  // A config's name becomes a directory name only made safe (no "..", no separators): runs
  // always stay inside results_dir.
  const std::filesystem::path parent =
      hold ? hold->dir() : io::config_results_dir(c.results_dir, c.config_name);
  io::require_free_space(parent, 2 * checkpoint_bytes + (16 << 20),
                         "this run's checkpoints and results");
  if (!hold) hold.emplace(io::RunDirHold::fresh(parent, c.model.name, c.dataset));
  const std::filesystem::path& run_dir = hold->dir();
  // Under the hold nobody else writes here: a temp file is what a killed writer left behind
  // (a SIGKILL during a checkpoint rewrite leaves a full-size one).
  const std::vector<std::filesystem::path> stale = io::remove_stale_temp_files(run_dir);
  const std::filesystem::path checkpoint = run_dir / "checkpoint.pt";
  // Before the checkpointer: an epoch is on disk before a checkpoint counts it.
  ResultsWriter writer(run_dir);
  trainer.add_plugin(&writer);
  std::optional<TensorBoardLogger> tensorboard;
  if (std::find(c.loggers.begin(), c.loggers.end(), "tensorboard") != c.loggers.end()) {
    tensorboard.emplace(run_dir / "tensorboard");
    trainer.add_plugin(&*tensorboard);
  }
  trainer.enable_checkpoints(checkpoint);
  result.run_id = hold->id();
  result.run_json = run_dir / "run.json";
  result.log_file = std::filesystem::path(c.log_dir) / (result.run_id + ".log");

  const bool resuming = place.resume && std::filesystem::exists(checkpoint);
  std::string started_at = io::utc_now_iso();
  if (place.resume && path_present(result.run_json)) {
    started_at =
        io::read_run_record(result.run_json.string(), io::RecordParts::summary).run.started;
  }
  if (resuming) {
    trainer.resume(checkpoint);  // replaces the record with the checkpoint's
    writer.store().restore(record);  // the epochs it counts, from the files
  } else {
    writer.store().start_fresh();
  }
  io::RunInfo& info = record.run;
  info.id = result.run_id;
  info.config_name = c.config_name;
  info.config = config::to_json(c);
  info.seeds = info.config["seeds"];
  info.device = device.str();
  info.num_threads = threads;
  info.torch_version = TORCH_VERSION;
  // Read, never executed: no git process runs in the user's repository (hooks, fsmonitor).
  info.git = io::build_commit();
  info.workdir_git = io::worktree_commit(".");
  info.host = host_name();
  info.started = started_at;
  info.finished.clear();
  info.status = "running";
  info.error.clear();
  info.num_parameters = model::count_parameters(*trainer.model());

  // Reserved while there is room: where the outcome goes if run.json cannot be rewritten.
  io::FailureNote& note = hold->reserve_failure_note();
  try {
    writer.write(record);
  } catch (const std::exception& e) {
    // A continued run keeps its old run.json; the note says why this attempt ended.
    note.record({"failed", std::string("run.json could not be written: ") + e.what(),
                 io::utc_now_iso()});
    throw;
  }
  started = true;  // from here on the run exists and every outcome is recorded

  std::shared_ptr<spdlog::sinks::sink> log_sink;
  struct Detach {
    std::shared_ptr<spdlog::sinks::sink>& sink;
    ~Detach() {
      if (sink) io::detach_log_file(sink);
    }
  } detach{log_sink};
  ProgressLine progress;
  EpochLogger epoch_logger;
  std::exception_ptr failure;
  try {
    log_sink = io::attach_log_file(result.log_file);
    log->info("[run] {} ({})", info.id, c.config_name);
    if (resuming) {
      log->info("[run] resumed from {} after {} finished epochs", checkpoint.string(),
                record.epochs.size());
    } else if (place.resume) {
      log->info("[run] {} has no checkpoint yet: starting it from the beginning",
                run_dir.string());
    }
    for (const auto& path : stale) {
      log->info("[run] removed {}, left by a writer that was killed", path.string());
    }
    log->info("[run] results {}  log {}", result.run_json.string(), result.log_file.string());
    log->info("[data] {}: {} images {}x{}x{}, {} classes, loaded in {:.1f}s", dataset.name,
              dataset.size(), dataset.channels(), dataset.height(), dataset.width(),
              dataset.num_classes, data_seconds);
    log->info("[data] {} domains ({}): {} train / {} test images each", domains.size(),
              c.partition.type, domains.front().train_idx.numel(),
              domains.front().test_idx.numel());
    std::vector<std::string> names;
    for (const auto& d : domains) names.push_back(d.name);
    log->info("[data] domains: {}", join(names));
    if (pretraining_drawn > 0) {
      log->info("[data] pretraining: {} samples drawn uniformly from the dataset ({})",
                pretraining_drawn,
                c.pretrain.with_replacement
                    ? "with replacement; the domains keep every sample"
                    : "out of the domains, whose train_frac shrank by num_samples / N");
    }
    log->info("[model] {}: {} parameters", c.model.name, info.num_parameters);
    if (!weights_report.empty()) {
      log->info("[model] {} {}: {}", weights_key, weights_path, weights_report);
      for (const std::string& head : weights_match.replaced_heads) {
        log->info("[model] head replaced (fresh initialisation): {}", head);
      }
      if (!weights_match.upcycled.empty()) {
        log->info("[model] upcycled {} expert tensors from the file's dense ones (noise {})",
                  weights_match.upcycled.size(), c.model.upcycle_noise);
      }
    }
    if (c.model.freeze_backbone) {
      log->info("[model] freeze_backbone: {} tensors frozen (heads, routers and experts train)",
                frozen);
    }
    if (prototypes_set > 0) {
      log->info("[model] prototypes: {} of {} set from the first image of each class of {} ({}; "
                "{} images)",
                prototypes_set, c.model.moe_num_unshared_experts, c.model.prototype_init_dataset,
                join(prototype_domain_names), prototype_images.size(0));
    }
    log->info("[optim] {} lr {} weight_decay {}, scheduler {}, loss {}; {} epochs per domain, "
              "batch size {}",
              c.optimizer.name, c.optimizer.lr, c.optimizer.weight_decay, c.scheduler.name,
              c.loss.name, c.epochs_per_domain, c.batch_size);
    // Each plugin that changes what is trained says so, with its settings.
    for (const TrainerPlugin* plugin : trainer.plugins()) {
      if (const std::string text = plugin->describe(); !text.empty()) {
        log->info("[plugin] {}", text);
      }
    }
    log->info("[seeds] global {} dataset {} partition {} loader {} model {} training {} "
              "pretrain {} baseline {} replay {}",
              c.seeds.global, c.seeds.dataset, c.seeds.partition, c.seeds.loader, c.seeds.model,
              c.seeds.training, c.seeds.pretrain, c.seeds.baseline, c.seeds.replay);
    for (const std::string& note : c.notes) log->info("[config] {}", note);
    if (!c.seeds.drawn.empty()) {
      log->info("[seeds] unseeded in the config (0, \"random\" or null), so drawn for this run: "
                "{}; run.json records them, so the run can be repeated",
                join(c.seeds.drawn));
    }
    log->info("[device] {} with {} threads, LibTorch {}; moedil {}", info.device, threads,
              TORCH_VERSION, info.git);
    if (const std::string blas = openblas_core(); !blas.empty()) {
      const std::string forced = blas_kernels_forced_by_user(&process_env);
      log->info("[device] OpenBLAS kernels: {}{}", blas,
                forced.empty() ? "" : " (chosen by " + forced + ")");
    }
    if (device.is_cpu()) {
      // avx512 and avx2 give the same bits; scalar (no AVX2, or ATEN_CPU_CAPABILITY=default)
      // differs in the last ones, and so may a run's metrics.
      log->info("[device] moedil's CPU kernels: {}", model::rows::kernel_name(
                                                        model::rows::best_kernel()));
    }
    if (const std::string note = tuning_note(); !note.empty()) {
      log->info("[device] set for the CPU libraries at start: {}", note);
    }

    trainer.add_plugin(&progress);
    trainer.add_plugin(&epoch_logger);
    if (!resuming) trainer.evaluate_initial();
    if (c.pretrain.enabled && !resuming) {
      trainer.pretrain();
      log->info("[pretrain] {} samples, {} epochs: train_acc {:.4f}, {:.1f}s",
                record.pretrain->num_samples, record.pretrain->epochs, record.pretrain->train_acc,
                record.pretrain->seconds);
      writer.store().append_pretrain(record);
      writer.write(record);
    }
    if (c.baseline.enabled && !resuming) {
      trainer.run_baselines();
      std::string accs;
      for (double a : *record.baseline_acc) accs += fmt::format(" {:.4f}", a);
      log->info("[baseline] accuracy of each domain trained alone:{}", accs);
      writer.write(record);
    }
    if (const std::optional<double> since = seconds_since_process_start()) {
      log->info("[run] training starts {:.2f}s after moedil started", *since);
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
  std::string kept_in = result.run_json.string();
  try {
    writer.write(record);
  } catch (const std::exception& e) {
    // run.json cannot be rewritten (a full disk): the reserved note keeps the outcome, and
    // every reader of run.json takes it from there.
    const bool completed = info.status == "completed";
    info.error = completed ? std::string("training completed but its results could not be "
                                         "written: ") + e.what()
                           : info.error + "; run.json could not be rewritten: " + e.what();
    if (completed) info.status = "failed";
    if (note.record({info.status, info.error, info.finished})) {
      kept_in = io::failure_note_path(run_dir).string() + " (run.json keeps the last epoch)";
    }
    if (!failure) failure = std::current_exception();
  }
  notify_run_end(c, record, kept_in);
  if (failure) {
    log->error("[run] {} {}: {} (outcome recorded in {})", info.id, info.status, info.error,
               kept_in);
    std::rethrow_exception(failure);
  }
  log->info("[result] {}", metrics::to_string(*record.metrics));
  log->info("[run] completed: {}", result.run_json.string());
  return result;
}

}  // namespace

RunResult run_experiment(const config::RunConfig& c, const RunPlace& place) {
  require_recordable(c);
  // An explicit run directory (--run-dir, --resume, a batch's runs) is held before anything is
  // loaded: a second process for the same run stops at once instead of loading too, and a stop
  // during loading can be recorded in the run.json of an earlier attempt.
  std::optional<io::RunDirHold> hold;
  if (!place.run_dir.empty()) {
    hold.emplace(io::RunDirHold::claim(place.run_dir));
    if (!place.resume && path_present(hold->dir() / "run.json")) {
      throw UsageError(hold->dir().string() + " already holds a run; continue it with "
                       "moedil run --resume " + hold->dir().string() +
                       " or choose another --run-dir");
    }
  }
  bool started = false;
  try {
    return run_held(c, place, hold, started);
  } catch (const InterruptedError& e) {
    if (hold && !started) record_interrupted_start(hold->dir() / "run.json", e.what());
    throw;
  }
}

io::RunRecord read_saved_run(const std::filesystem::path& run_dir) {
  const std::filesystem::path run_json = run_dir / "run.json";
  if (!path_present(run_json)) {
    throw DataError(run_dir.string() + " holds no run.json: not a moedil run directory");
  }
  return io::read_run_record(run_json.string(), io::RecordParts::epochs);
}

config::RunConfig config_of_run(const io::RunRecord& saved, const std::filesystem::path& run_dir,
                                const std::vector<std::string>& overrides) {
  nlohmann::json j = config::without_unread_model_keys(saved.run.config);
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
