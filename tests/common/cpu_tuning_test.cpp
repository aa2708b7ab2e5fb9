#include "moedil/common/cpu_tuning.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace moedil {
namespace {

std::map<std::string, std::string> fake_env;

const char* fake_get(const char* name) {
  const auto it = fake_env.find(name);
  return it == fake_env.end() ? nullptr : it->second.c_str();
}

/// fake_env as NAME=VALUE strings and a null-terminated array of pointers into them.
struct EnvBlock {
  std::vector<std::string> entries;
  std::vector<const char*> pointers;
  explicit EnvBlock(const std::vector<std::string>& e) : entries(e) {
    for (const std::string& s : entries) pointers.push_back(s.c_str());
    pointers.push_back(nullptr);
  }
};

/// Makes fake_env what `entries` says (NAME=VALUE each).
void load(const std::vector<std::string>& entries) {
  fake_env.clear();
  for (const std::string& e : entries) {
    const auto eq = e.find('=');
    fake_env[e.substr(0, eq)] = e.substr(eq + 1);
  }
}

constexpr CpuFeatures kAvx512{true, true};
constexpr CpuFeatures kAvx2{true, false};
constexpr CpuFeatures kSse{false, false};

TEST(CpuTuning, ShortSpinUnlessTheUserChoseTheWaitPolicy) {
  load({"PATH=/usr/bin"});
  auto plan = plan_openmp_tuning(&fake_get);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].name, "GOMP_SPINCOUNT");
  EXPECT_EQ(plan[0].value, kSpinCount);
  EXPECT_NE(plan[0].why.find("OMP_WAIT_POLICY"), std::string::npos) << "names the override";

  for (const char* set : {"OMP_WAIT_POLICY=active", "GOMP_SPINCOUNT=infinite",
                          "GOMP_SPINCOUNT=", "MOEDIL_NO_TUNE=1", "MOEDIL_NO_TUNE=yes"}) {
    load({"PATH=/usr/bin", set});
    EXPECT_TRUE(plan_openmp_tuning(&fake_get).empty()) << set;
  }
  for (const char* set : {"MOEDIL_NO_TUNE=0", "MOEDIL_NO_TUNE="}) {
    load({set});
    EXPECT_EQ(plan_openmp_tuning(&fake_get).size(), 1u) << set << " does not turn tuning off";
  }
}

TEST(CpuTuning, OpenBlasCoreOnlyWhereItTookTheCpuForAnOldOne) {
  load({});
  auto plan = plan_openblas_tuning(&fake_get, "Prescott", kAvx512);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].name, "OPENBLAS_CORETYPE");
  EXPECT_EQ(plan[0].value, "SkylakeX");
  EXPECT_NE(plan[0].why.find("Prescott"), std::string::npos);

  plan = plan_openblas_tuning(&fake_get, "Nehalem", kAvx2);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].value, "Haswell");
  EXPECT_EQ(plan_openblas_tuning(&fake_get, "PRESCOTT", kAvx2).size(), 1u) << "any case";

  // A right choice, no OpenBLAS, a CPU without AVX2: nothing to change.
  for (const char* chosen : {"Haswell", "SkylakeX", "Cooperlake", "Zen", "SapphireRapids", ""}) {
    EXPECT_TRUE(plan_openblas_tuning(&fake_get, chosen, kAvx512).empty()) << chosen;
  }
  EXPECT_TRUE(plan_openblas_tuning(&fake_get, "Prescott", kSse).empty());

  // The user's choice (or moedil's, before a restart) and MOEDIL_NO_TUNE stand.
  load({"OPENBLAS_CORETYPE=Prescott"});
  EXPECT_TRUE(plan_openblas_tuning(&fake_get, "Prescott", kAvx512).empty());
  load({"MOEDIL_NO_TUNE=1"});
  EXPECT_TRUE(plan_openblas_tuning(&fake_get, "Prescott", kAvx512).empty());
}

TEST(CpuTuning, TunedEnvironmentSetsReplacesAndNotes) {
  const EnvBlock env({"PATH=/usr/bin", "GOMP_SPINCOUNT_OLD=1", "OPENBLAS_CORETYPE=Old",
                      std::string(kTuningVariable) + "=GOMP_SPINCOUNT=5000 (short spin)"});
  const std::vector<EnvChange> changes{{"OPENBLAS_CORETYPE", "SkylakeX", "old kernels"}};
  const std::vector<std::string> out = tuned_environment(env.pointers.data(), changes);
  const std::vector<std::string> want{
      "PATH=/usr/bin", "GOMP_SPINCOUNT_OLD=1", "OPENBLAS_CORETYPE=SkylakeX",
      std::string(kTuningVariable) +
          "=GOMP_SPINCOUNT=5000 (short spin); OPENBLAS_CORETYPE=SkylakeX (old kernels)"};
  EXPECT_EQ(out, want);
}

TEST(CpuTuning, ARestartedProcessPlansNothingMore) {
  // What moedil plans for a fresh process, applied, leaves nothing to plan: no restart loop.
  load({"PATH=/usr/bin"});
  std::vector<EnvChange> changes = plan_openmp_tuning(&fake_get);
  const auto blas = plan_openblas_tuning(&fake_get, "Prescott", kAvx512);
  changes.insert(changes.end(), blas.begin(), blas.end());
  ASSERT_EQ(changes.size(), 2u);
  const EnvBlock before({"PATH=/usr/bin"});
  load(tuned_environment(before.pointers.data(), changes));
  EXPECT_EQ(fake_env.at("GOMP_SPINCOUNT"), kSpinCount);
  EXPECT_EQ(fake_env.at("OPENBLAS_CORETYPE"), "SkylakeX");
  EXPECT_TRUE(plan_openmp_tuning(&fake_get).empty());
  EXPECT_TRUE(plan_openblas_tuning(&fake_get, "Prescott", kAvx512).empty());
}

TEST(CpuTuning, OnlyCommandsThatComputeRestartForTheSpin) {
  const auto applies = [](std::vector<const char*> argv) {
    argv.push_back(nullptr);
    return openmp_tuning_applies(static_cast<int>(argv.size()) - 1, argv.data());
  };
  EXPECT_TRUE(applies({"moedil", "run", "c.jsonc"}));
  EXPECT_TRUE(applies({"moedil", "eval", "dir"}));
  EXPECT_TRUE(applies({"moedil", "batch", "m.jsonc"}));
  EXPECT_FALSE(applies({"moedil", "status"}));
  EXPECT_FALSE(applies({"moedil", "report", "results"}));
  EXPECT_FALSE(applies({"moedil", "--version"}));
  EXPECT_FALSE(applies({"moedil"}));
  EXPECT_FALSE(applies({"moedil", "runs"}));
}

}  // namespace
}  // namespace moedil
