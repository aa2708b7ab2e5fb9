// The shipped configs: they validate, and configs/example.jsonc documents every key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "moedil/config/jsonc.h"
#include "moedil/config/load.h"
#include "moedil/train/experiment.h"

namespace moedil::config {
namespace {

std::filesystem::path source_dir() {
  const char* dir = std::getenv("MOEDIL_SOURCE_DIR");
  return dir ? dir : MOEDIL_SOURCE_DIR_DEFAULT;
}

/// Every dotted key path of an object (objects recursed, other values are leaves).
void collect_keys(const nlohmann::json& j, const std::string& prefix,
                  std::vector<std::string>& out) {
  for (const auto& item : j.items()) {
    const std::string path = prefix + item.key();
    if (item.value().is_object()) {
      collect_keys(item.value(), path + ".", out);
    } else {
      out.push_back(path);
    }
  }
}

TEST(ShippedConfigs, AllValidate) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "configs")) {
    if (entry.path().extension() != ".jsonc") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_run_config(entry.path(), {}, train::name_catalog()));
    ++count;
  }
  EXPECT_GE(count, 2);
}

TEST(ShippedConfigs, OneExampleConfigPerModelFamily) {
  for (const std::string& family : train::name_catalog().models) {
    SCOPED_TRACE(family);
    const std::filesystem::path path =
        source_dir() / "configs" / (family == "vit_moe" ? "quickstart.jsonc" : family + ".jsonc");
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_EQ(load_run_config(path, {}, train::name_catalog()).model.name, family);
  }
}

TEST(ShippedConfigs, ExampleDocumentsEveryKeyWithItsDefault) {
  std::ifstream in(source_dir() / "configs/example.jsonc");
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json example = parse_jsonc(text.str(), "example.jsonc");
  std::vector<std::string> defaults;
  collect_keys(to_json(RunConfig{}), "", defaults);
  std::vector<std::string> documented;
  collect_keys(example, "", documented);
  std::sort(defaults.begin(), defaults.end());
  std::sort(documented.begin(), documented.end());
  EXPECT_EQ(documented, defaults);
  // Its values are the defaults (moe_layer_indices is written as the keyword it resolves from).
  nlohmann::json resolved = to_json(load_run_config(source_dir() / "configs/example.jsonc", {},
                                                    train::name_catalog()));
  EXPECT_EQ(resolved, to_json(RunConfig{}));
}

}  // namespace
}  // namespace moedil::config
