#pragma once
// Run ids and run directories: every run writes into a fresh directory named by its id.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace moedil::io {

/// Formats a run id "<model>_<dataset>_<YYYYmmdd-HHMMSS>_<4 lowercase hex>", e.g.
/// "vit_moe_fashion_mnist_20261123-123456_00ab". The time is printed in UTC.
std::string format_run_id(std::string_view model, std::string_view dataset,
                          std::chrono::system_clock::time_point when, uint16_t suffix);

/// `name` made safe as one directory name: '/', '\\', control characters and bytes that are not
/// valid UTF-8 become '_'; "" becomes "config"; a name of dots only ("." or "..") gets a leading
/// '_'; at most 200 bytes (cut at a character boundary). Other names are kept as they are.
std::string safe_dir_name(std::string_view name);

/// Where `moedil run` puts the runs of config `config_name`: results_dir/<safe_dir_name>.
/// Throws IoError if that would not lie inside results_dir (it always does; checked anyway).
std::filesystem::path config_results_dir(const std::filesystem::path& results_dir,
                                         std::string_view config_name);

/// A run's id and the directory created for it.
struct RunDir {
  std::string id;             ///< the run id, also the directory's name
  std::filesystem::path dir;  ///< parent / id
};

/// Creates a fresh, unique directory parent/<run id> for the current time (creating `parent` if
/// missing) and returns its id and path. The suffix is drawn from std::random_device; if the
/// directory already exists another suffix is drawn, up to 64 tries, after which moedil::IoError
/// is thrown. Also throws IoError if a directory cannot be created, or if `model` or `dataset` is
/// empty or contains a path separator.
RunDir create_run_dir(const std::filesystem::path& parent, std::string_view model,
                      std::string_view dataset);

}  // namespace moedil::io
