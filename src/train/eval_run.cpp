#include "moedil/train/eval_run.h"

#include "moedil/train/precision.h"

#include <ATen/Parallel.h>
#include <torch/utils.h>

#include "moedil/common/error.h"
#include "moedil/data/batching.h"
#include "moedil/data/registry.h"
#include "moedil/io/atomic_file.h"
#include "moedil/model/registry.h"
#include "moedil/model/weights_file.h"
#include "moedil/partition/registry.h"
#include "moedil/partition/run_domains.h"
#include "moedil/train/eval_dump.h"
#include "moedil/train/evaluate.h"
#include "moedil/train/experiment.h"
#include "moedil/train/trainer.h"

namespace moedil::train {

namespace {

/// "blocks.1.moe:2" -> {"blocks.1.moe", 2}.
std::pair<std::string, int64_t> parse_fixed_expert(const std::string& spec) {
  const auto colon = spec.rfind(':');
  std::size_t used = 0;
  int64_t expert = -1;
  if (colon != std::string::npos && colon > 0 && colon + 1 < spec.size()) {
    try {
      expert = std::stoll(spec.substr(colon + 1), &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
  }
  if (used == 0 || colon + 1 + used != spec.size() || expert < 0) {
    throw UsageError("--fixed-expert '" + spec + "': expected LAYER:EXPERT, e.g. blocks.1.moe:2");
  }
  return {spec.substr(0, colon), expert};
}

}  // namespace

RunEvaluation evaluate_run(const std::filesystem::path& run_dir,
                           const std::vector<std::string>& overrides,
                           const std::vector<std::string>& fixed_experts,
                           const EvalDump* dump) {
  const io::RunRecord record = read_saved_run(run_dir);
  const config::RunConfig c = config_of_run(record, run_dir, overrides);
  const std::filesystem::path checkpoint = run_dir / "checkpoint.pt";
  if (!std::filesystem::exists(checkpoint)) {
    throw DataError(run_dir.string() + " has no checkpoint.pt: the run finished no epoch yet");
  }
  const c10::Device device = resolve_device(c.device);
  at::set_num_threads(static_cast<int>(resolve_num_threads(c.num_threads)));

  const data::Dataset dataset = data::make_dataset(c);
  // The run's domains: the same pretraining draw taken out of the data first.
  const std::vector<partition::Domain> domains =
      partition::make_run_domains(dataset, c).domains;
  torch::manual_seed(static_cast<uint64_t>(c.seeds.model));
  model::Classifier net = model::make_model(
      c.model, {dataset.channels(), dataset.height(), dataset.width(), dataset.num_classes});
  const model::WeightsMatch match =
      model::load_named_tensors(*net, model::read_weights_file(checkpoint.string()), checkpoint.string());
  if (!match.missing.empty() || !match.mismatched.empty()) {
    throw DataError(checkpoint.string() + " does not fit the run's model: " + model::describe(match));
  }
  std::string suffix;
  for (const std::string& spec : fixed_experts) {
    const auto [layer, expert] = parse_fixed_expert(spec);
    net->force_expert(layer, expert);
    suffix += (suffix.empty() ? "_fixed_" : "+") + layer + "_" + std::to_string(expert);
  }
  net->to(device);
  // The model as it was at the last recorded epoch: models that anneal their own settings
  // (vit_moe_centroid's temperature) take that epoch's values.
  if (!record.epochs.empty()) {
    net->on_epoch_start(record.epochs.back().domain, record.epochs.back().epoch);
  }
  const AutocastGuard autocast(c.amp, device);  // evaluated in the precision it trained in

  RunEvaluation out;
  out.run_id = record.run.id;
  const data::Normalizer normalizer(dataset.mean, dataset.stddev, device);
  nlohmann::json dumped_domains = nlohmann::json::array();
  for (std::size_t j = 0; j < domains.size(); ++j) {
    const partition::Domain& d = domains[j];
    const data::Batches batches(d.images.to(device), d.labels.to(device), d.test_idx,
                                c.eval_batch_size, normalizer);
    Evaluation ev;
    if (dump) {
      const std::string sub = "domain" + std::to_string(j);
      ev = evaluate_and_dump(*net, batches, d.test_idx, dataset.num_classes, dump->dir / sub,
                             dump->inputs);
      dumped_domains.push_back({{"index", j}, {"name", d.name}, {"dir", sub},
                                {"samples", d.test_idx.numel()}, {"acc", ev.acc}});
    } else {
      ev = evaluate(*net, batches, dataset.num_classes);
    }
    io::EvalRecord rec{d.name, ev.acc, ev.loss, {}, usage_by_layer(ev.usage)};
    for (int64_t t = 0; t < dataset.num_classes; ++t) {
      rec.confusion.emplace_back(ev.confusion.begin() + t * dataset.num_classes,
                                 ev.confusion.begin() + (t + 1) * dataset.num_classes);
    }
    out.eval.push_back(std::move(rec));
  }
  // The checkpoint holds the weights after the last finished epoch that run.json records.
  out.epochs_trained = static_cast<int64_t>(record.epochs.size());
  if (!record.epochs.empty()) {
    for (const auto& v : record.epochs.back().eval) out.recorded_acc.push_back(v.acc);
  }
  if (dump) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& layer : net->moe_layers()) {
      layers.push_back({{"name", layer.name},
                        {"experts", layer.mixture->options().num_experts()},
                        {"files", {"gates." + layer.name + ".npy", "experts." + layer.name + ".npy"}}});
    }
    std::vector<std::string> files{"logits.npy", "labels.npy", "predictions.npy", "rows.npy"};
    if (dump->inputs) files.push_back("inputs.npy");
    io::write_file_atomic(dump->dir / "index.json",
                          nlohmann::json{{"run_id", record.run.id},
                                         {"checkpoint", checkpoint.string()},
                                         {"epochs_trained", record.epochs.size()},
                                         {"fixed_experts", fixed_experts},
                                         {"num_classes", dataset.num_classes},
                                         {"domains", dumped_domains},
                                         {"files", files},
                                         {"moe_layers", layers}}
                                  .dump(1) +
                              "\n");
  }
  out.written = run_dir / ("eval" + suffix + ".json");
  io::write_file_atomic(out.written, nlohmann::json{{"run_id", out.run_id},
                                                    {"checkpoint", checkpoint.string()},
                                                    {"epochs_trained", out.epochs_trained},
                                                    {"fixed_experts", fixed_experts},
                                                    {"recorded_acc", out.recorded_acc},
                                                    {"eval", io::evals_to_json(out.eval)}}
                                             .dump(1) +
                                         "\n");
  return out;
}

}  // namespace moedil::train
