#include "moedil/train/checkpoint.h"

#include <fstream>
#include <sstream>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "moedil/common/error.h"
#include "moedil/common/sealed.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"

namespace moedil::train {
namespace {

constexpr int64_t kCheckpointVersion = 1;

/// The whole file, refusing what is not a regular file (a FIFO would block the read forever).
std::string read_whole_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError("checkpoint " + path.string() +
                    (std::filesystem::exists(path, ec) ? " is not a regular file"
                                                       : " does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("checkpoint " + path.string() + " cannot be opened");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw DataError("checkpoint " + path.string() + " cannot be read");
  return bytes.str();
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer& optimizer, const nlohmann::json& state,
                     const CheckpointTensors& tensors) {
  torch::serialize::OutputArchive archive;
  archive.write("moedil_checkpoint_version", c10::IValue(kCheckpointVersion));
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("state", c10::IValue(state.dump()));
  if (!tensors.empty()) {
    // Flat keys "<plugin>__<name>" (archive keys must not hold dots) and an index of them.
    nlohmann::json index = nlohmann::json::object();
    torch::serialize::OutputArchive plugins_archive;
    for (const auto& [plugin, named] : tensors) {
      index[plugin] = nlohmann::json::array();
      for (const auto& [name, tensor] : named) {
        plugins_archive.write(plugin + "__" + name, tensor);
        index[plugin].push_back(name);
      }
    }
    archive.write("plugin_tensor_index", c10::IValue(index.dump()));
    archive.write("plugin_tensors", plugins_archive);
  }
  std::ostringstream bytes;
  try {
    archive.save_to(bytes);
  } catch (const c10::Error& e) {
    throw IoError("cannot serialise checkpoint " + path.string() + ": " + e.what_without_backtrace());
  }
  const std::string payload = bytes.str();
  std::string content = sealed_header(kCheckpointSeal, payload);
  content.reserve(content.size() + payload.size());
  content += payload;
  io::write_file_atomic(path, content);
}

std::string checkpoint_payload(const std::filesystem::path& path) {
  std::string bytes = read_whole_file(path);
  const std::optional<std::string_view> payload =
      unseal(bytes, kCheckpointSeal, "checkpoint " + path.string());
  if (payload) return std::string(*payload);
  if (bytes.rfind("PK", 0) == 0) {
    io::logger()->warn("[checkpoint] {} has no checksum (written before moedil sealed its "
                       "checkpoints): loaded without verification",
                       path.string());
    return bytes;
  }
  throw DataError("checkpoint " + path.string() + " is not a moedil checkpoint");
}

nlohmann::json load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer, const c10::Device& device,
                               CheckpointTensors* tensors) {
  const std::string payload = checkpoint_payload(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(payload.data(), payload.size(), device);
    c10::IValue version;
    if (!archive.try_read("moedil_checkpoint_version", version) || !version.isInt() ||
        version.toInt() != kCheckpointVersion) {
      throw DataError("checkpoint " + path.string() + " is not a moedil checkpoint of version " +
                      std::to_string(kCheckpointVersion));
    }
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    c10::IValue state;
    archive.read("state", state);
    c10::IValue index;
    if (tensors && archive.try_read("plugin_tensor_index", index)) {
      torch::serialize::InputArchive plugins_archive;
      archive.read("plugin_tensors", plugins_archive);
      const nlohmann::json names = nlohmann::json::parse(index.toStringRef());
      for (const auto& [plugin, list] : names.items()) {
        auto& named = (*tensors)[plugin];
        for (const auto& name : list) {
          at::Tensor tensor;
          plugins_archive.read(plugin + "__" + name.get<std::string>(), tensor);
          named[name.get<std::string>()] = tensor.to(device);
        }
      }
    }
    return nlohmann::json::parse(state.toStringRef());
  } catch (const c10::Error& e) {
    throw DataError("checkpoint " + path.string() + " cannot be loaded: " +
                    e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    throw DataError("checkpoint " + path.string() + " has a malformed state: " + e.what());
  }
}

int64_t estimate_checkpoint_bytes(const torch::nn::Module& model, int64_t optimizer_slots,
                                  int64_t state_bytes) {
  int64_t params = 0;
  for (const auto& p : model.parameters()) params += p.numel() * static_cast<int64_t>(p.element_size());
  int64_t buffers = 0;
  for (const auto& b : model.buffers()) buffers += b.numel() * static_cast<int64_t>(b.element_size());
  return params * (1 + optimizer_slots) + buffers + state_bytes;
}

}  // namespace moedil::train
