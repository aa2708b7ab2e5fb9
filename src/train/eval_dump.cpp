#include "moedil/train/eval_dump.h"

#include <vector>

#include <ATen/ATen.h>

#include "moedil/common/error.h"
#include "moedil/io/npy.h"

namespace moedil::train {
namespace {

void write(const std::filesystem::path& path, const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU).contiguous();
  io::NpyType type = io::NpyType::Float32;
  if (cpu.scalar_type() == at::kLong) {
    type = io::NpyType::Int64;
  } else if (cpu.scalar_type() != at::kFloat) {
    throw Error("eval --dump: unexpected tensor type for " + path.string());
  }
  io::write_npy(path, type, cpu.sizes().vec(), cpu.data_ptr(),
                static_cast<std::size_t>(cpu.numel()) * cpu.element_size());
}

at::Tensor cat_or_empty(const std::vector<at::Tensor>& parts, std::vector<int64_t> empty_shape,
                        at::ScalarType type) {
  if (parts.empty()) return at::zeros(empty_shape, at::TensorOptions().dtype(type));
  return at::cat(parts, 0);
}

}  // namespace

Evaluation evaluate_and_dump(model::ClassifierImpl& model, const data::Batches& batches,
                             const at::Tensor& rows, int64_t num_classes,
                             const std::filesystem::path& dir, bool inputs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("eval --dump: cannot create " + dir.string() + ": " + ec.message());
  std::vector<at::Tensor> logits;
  std::vector<at::Tensor> labels;
  std::vector<at::Tensor> images;
  for (const auto& layer : model.moe_layers()) {
    layer.mixture->take_recorded();
    layer.mixture->set_recording(true);
  }
  Evaluation ev;
  try {
    ev = evaluate(model, batches, num_classes,
                  [&](const at::Tensor& x, const at::Tensor& y, const at::Tensor& out) {
                    logits.push_back(out.to(at::kCPU, at::kFloat));
                    labels.push_back(y.to(at::kCPU));
                    if (inputs) images.push_back(x.to(at::kCPU, at::kFloat));
                  });
  } catch (...) {
    for (const auto& layer : model.moe_layers()) layer.mixture->set_recording(false);
    throw;
  }
  const at::Tensor all_logits = cat_or_empty(logits, {0, num_classes}, at::kFloat);
  write(dir / "logits.npy", all_logits);
  write(dir / "labels.npy", cat_or_empty(labels, {0}, at::kLong));
  write(dir / "predictions.npy", all_logits.argmax(1));
  write(dir / "rows.npy", rows.to(at::kLong));
  if (inputs) {
    write(dir / "inputs.npy", at::cat(images, 0));
  }
  for (const auto& layer : model.moe_layers()) {
    layer.mixture->set_recording(false);
    const int64_t experts = layer.mixture->options().num_experts();
    const at::Tensor gates =
        cat_or_empty(layer.mixture->take_recorded(), {0, experts}, at::kFloat).to(at::kCPU);
    const at::Tensor top = gates.numel() > 0 ? gates.argmax(1) : at::zeros({0}, at::kLong);
    const at::Tensor none = gates.gt(0).any(1).logical_not();
    write(dir / ("gates." + layer.name + ".npy"), gates);
    write(dir / ("experts." + layer.name + ".npy"), top.masked_fill(none, -1));
  }
  return ev;
}

}  // namespace moedil::train
