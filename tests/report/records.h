#pragma once
// Tiny hand-made run records and temp dirs for the report tests.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "moedil/io/run_record.h"

namespace moedil::report::testing {

/// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("moedil_report_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Two domains "a" and "b", 2 classes, one epoch per domain, MoE layer "blocks.1.moe" with 2
/// experts. Final evaluation: domain a [[4,1],[0,5]] (acc 0.9), domain b [[3,2],[1,4]] (acc 0.7).
/// R = [[0.8, 0.5], [0.9 - shift, 0.7]] so ACC = (1.6 - shift) / 2; metrics computed.
inline io::RunRecord make_record(const std::string& id, const std::string& config,
                                 const std::string& status = "completed", double shift = 0.0,
                                 int seed = 0) {
  io::RunRecord r;
  r.run.id = id;
  r.run.config_name = config;
  r.run.config = {{"dataset", "synthetic"}};
  r.run.seeds = {{"global", seed}};
  r.run.status = status;
  if (status == "failed") r.run.error = "loss is NaN";
  r.run.started = "2026-01-01T00:00:00Z";
  r.domains = {"a", "b"};
  r.init_acc = {0.5, 0.4};
  io::EpochRecord e0;
  e0.domain = 0;
  e0.epoch = 0;
  e0.eval = {{"a", 0.8, 0.5, {{4, 1}, {1, 4}}, {}}, {"b", 0.5, 0.9, {{5, 0}, {5, 0}}, {}}};
  e0.expert_usage = {{"blocks.1.moe", {30, 10}}};
  r.epochs.push_back(e0);
  r.r_matrix = {{0.8, 0.5}};
  r.r_history = {{{0.8, 0.5}}};
  if (status == "completed") {
    io::EpochRecord e1;
    e1.domain = 1;
    e1.epoch = 0;
    e1.eval = {{"a", 0.9 - shift, 0.4, {{4, 1}, {0, 5}}, {}}, {"b", 0.7, 0.6, {{3, 2}, {1, 4}}, {}}};
    e1.expert_usage = {{"blocks.1.moe", {15, 25}}};
    r.epochs.push_back(e1);
    r.r_matrix.push_back({0.9 - shift, 0.7});
    r.r_history.push_back({{0.8, 0.5}, {0.9 - shift, 0.7}});
    r.metrics = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, std::nullopt);
  }
  return r;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

/// Writes `r` as <dir>/<id>/run.json and returns the file.
inline std::filesystem::path write_run(const std::filesystem::path& dir, const io::RunRecord& r) {
  const auto file = dir / r.run.id / "run.json";
  write_text(file, io::to_json(r).dump(1));
  return file;
}

}  // namespace moedil::report::testing
