// The shipped configs: they validate, and configs/example.jsonc documents every key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "moedil/batch/metaconfig.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/load.h"
#include "moedil/config/model_families.h"
#include "moedil/model/registry.h"
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

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ShippedConfigs, MetaconfigsValidateWithTheirOverrides) {
  // As `moedil batch` loads them: config paths are relative to the repository root.
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(source_dir());
  int configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator("metaconfigs")) {
    if (entry.path().extension() != ".jsonc") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(batch::load_metaconfig(
        entry.path(), [&](batch::ConfigEntry& config, std::vector<std::string>& problems) {
          try {
            load_run_config(config.path, config.overrides, train::name_catalog());
            ++configs;
          } catch (const std::exception& e) {
            problems.push_back(e.what());
          }
        }));
  }
  std::filesystem::current_path(cwd);
  EXPECT_GE(configs, 2);
}

TEST(ShippedConfigs, ModelFamiliesAreTheRegisteredModels) {
  std::vector<std::string> families;
  for (const ModelFamily& family : model_families()) families.push_back(family.name);
  EXPECT_EQ(families, model::model_registry().names());
}

TEST(ShippedConfigs, ExampleDocumentsEveryOtherFamilysKeysWithItsDefault) {
  // The keys vit_moe does not read are commented out: `// "key": value, // what it does`.
  const std::string text = read_text(source_dir() / "configs/example.jsonc");
  const std::regex commented(R"(^\s*//\s*("[a-z_0-9]+"\s*:.*)$)");
  nlohmann::json documented = nlohmann::json::object();
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (!std::regex_match(line, match, commented)) continue;
    const nlohmann::json one = parse_jsonc("{" + match[1].str() + "\n}", "example.jsonc");
    documented.update(one);
  }
  const nlohmann::json active = parse_jsonc(text, "example.jsonc").at("model");
  int checked = 0;
  for (const ModelFamily& family : model_families()) {
    RunConfig defaults;
    defaults.model.name = family.name;
    const nlohmann::json resolved = to_json(defaults);
    for (const auto& [key, value] : resolved.at("model").items()) {
      SCOPED_TRACE(family.name + ": model." + key);
      if (active.contains(key)) continue;  // checked by ExampleDocumentsEveryKeyWithItsDefault
      ASSERT_TRUE(documented.contains(key));
      EXPECT_EQ(documented.at(key), value);
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(ShippedConfigs, ExampleDocumentsEveryKeyWithItsDefault) {
  std::stringstream text(read_text(source_dir() / "configs/example.jsonc"));
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
