#include "moedil/train/export_run.h"

#include "moedil/common/error.h"
#include "moedil/io/atomic_file.h"
#include "moedil/model/torch_save.h"
#include "moedil/model/weight_names.h"
#include "moedil/model/weights_file.h"
#include "moedil/train/experiment.h"

namespace moedil::train {

ExportResult export_run(const std::filesystem::path& run_dir, const std::filesystem::path& file,
                        const std::string& naming) {
  if (naming != "moedil" && naming != "torchvision" && naming != "timm") {
    throw UsageError("--naming '" + naming + "': expected moedil, torchvision or timm");
  }
  const io::RunRecord record = read_saved_run(run_dir);
  const config::RunConfig c = config_of_run(record, run_dir, {});
  const std::string& model = c.model.name;
  // torchvision's and timm's models are dense: only moedil's dense twins have their names.
  const bool fits = naming == "moedil" ||
                    (naming == "torchvision" && (model == "resnet18" || model == "convnext_tiny")) ||
                    (naming != "moedil" && model == "vit");
  if (!fits) {
    throw UsageError("--naming " + naming + ": the run's model " + model +
                     " has no " + naming + " counterpart (torchvision: vit, resnet18, "
                     "convnext_tiny; timm: vit); export it with --naming moedil");
  }
  const std::filesystem::path checkpoint = run_dir / "checkpoint.pt";
  if (!std::filesystem::exists(checkpoint)) {
    throw DataError(run_dir.string() + " has no checkpoint.pt: the run finished no epoch yet");
  }
  const model::NamedTensors weights =
      model::from_moedil_names(model::read_weights_file(checkpoint.string()), naming);
  io::write_file_atomic(file, model::write_torch_save(weights));
  return {model, weights.size()};
}

}  // namespace moedil::train
