#include "moedil/common/cpu_tuning.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

  // AVX2 kernels on an AVX-512 CPU (Debian 12's OpenBLAS on a Zen 5): its AVX-512 ones.
  for (const char* chosen : {"Haswell", "Zen", "ZEN"}) {
    plan = plan_openblas_tuning(&fake_get, chosen, kAvx512);
    ASSERT_EQ(plan.size(), 1u) << chosen;
    EXPECT_EQ(plan[0].value, "SkylakeX");
    EXPECT_NE(plan[0].why.find("AVX2 kernels (" + std::string(chosen) + ")"), std::string::npos);
    EXPECT_TRUE(plan_openblas_tuning(&fake_get, chosen, kAvx2).empty()) << chosen;
  }

  // A right choice, no OpenBLAS, a CPU without AVX2: nothing to change.
  for (const char* chosen : {"SkylakeX", "Cooperlake", "SapphireRapids", ""}) {
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

TEST(CpuTuning, BlasChoiceCachedUnderXdgCacheHomeElseHome) {
  load({"HOME=/home/u", "XDG_CACHE_HOME=/var/c"});
  EXPECT_EQ(blas_cache_path(&fake_get), "/var/c/moedil/cpu-tuning");
  load({"HOME=/home/u", "XDG_CACHE_HOME=relative"});  // not absolute: ignored, as the spec says
  EXPECT_EQ(blas_cache_path(&fake_get), "/home/u/.cache/moedil/cpu-tuning");
  load({"PATH=/usr/bin"});
  EXPECT_EQ(blas_cache_path(&fake_get), "");
}

/// A fresh directory under the system's temporary one, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "moedil-tune.XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(CpuTuning, BlasChoiceRoundTripsForItsKeyOnly) {
  const TempDir dir;
  const std::string path = (dir.path / "deep" / "moedil" / "cpu-tuning").string();
  const std::string key = "cpu 788210 avx2 avx512 blas /lib/libopenblas.so.0 36555192 1671462231";
  EXPECT_EQ(read_blas_choice(path, key), std::nullopt);  // no file yet
  ASSERT_TRUE(write_blas_choice(path, key, "Prescott"));  // creates the directories
  EXPECT_EQ(read_blas_choice(path, key), std::optional<std::string>("Prescott"));
  EXPECT_EQ(read_blas_choice(path, key + "0"), std::nullopt);  // another library or CPU
  EXPECT_EQ(read_blas_choice(path, ""), std::nullopt);
  ASSERT_TRUE(write_blas_choice(path, key, "Haswell"));  // replaced, not appended
  EXPECT_EQ(read_blas_choice(path, key), std::optional<std::string>("Haswell"));
  EXPECT_FALSE(write_blas_choice(path, "a\tkey", "Prescott"));
  EXPECT_FALSE(write_blas_choice("", key, "Prescott"));
  // What moedil did not write is not believed: no final newline, a core that is not a word,
  // a file too long to be one line.
  for (const std::string& text :
       {key + "\tPrescott", key + "\tPres cott\n", key + "\t../x\n", std::string(5000, 'x')}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    EXPECT_EQ(read_blas_choice(path, key), std::nullopt) << text.substr(0, 60);
  }
  EXPECT_FALSE(write_blas_choice((dir.path / "file" / "x").string() + "/", key, "P"));
}

TEST(CpuTuning, BlasMachineKeyWhereverOpenBlasIsLoaded) {
  const std::string key = blas_machine_key();
  EXPECT_EQ(key.empty(), openblas_core().empty()) << key;
  if (!key.empty()) {
    EXPECT_EQ(key.rfind("cpu ", 0), 0u) << key;
    EXPECT_NE(key.find(" blas /"), std::string::npos) << key;
    EXPECT_NE(key.find("openblas"), std::string::npos) << key;
    EXPECT_EQ(key, blas_machine_key());  // the same every time
  }
}

// A remembered choice plans the OpenBLAS core at start, beside the spin, saying why; a core
// with AVX2 kernels, or none remembered, plans the spin alone.
TEST(CpuTuning, RememberedBlasChoicePlannedAtStart) {
  load({"PATH=/usr/bin"});
  const auto both = plan_at_start(&fake_get, std::string("Prescott"), kAvx512);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].name, "GOMP_SPINCOUNT");
  EXPECT_EQ(both[1].name, "OPENBLAS_CORETYPE");
  EXPECT_EQ(both[1].value, "SkylakeX");
  EXPECT_NE(both[1].why.find("remembered from an earlier run"), std::string::npos);
  EXPECT_EQ(plan_at_start(&fake_get, std::string("SkylakeX"), kAvx512).size(), 1u);
  EXPECT_EQ(plan_at_start(&fake_get, std::nullopt, kAvx512).size(), 1u);
  load({"GOMP_SPINCOUNT=100", "OPENBLAS_CORETYPE=Haswell"});
  EXPECT_TRUE(plan_at_start(&fake_get, std::string("Prescott"), kAvx512).empty());
  load({"MOEDIL_NO_TUNE=1"});
  EXPECT_TRUE(plan_at_start(&fake_get, std::string("Prescott"), kAvx512).empty());
}

// Only OpenBLAS's own choice is remembered (not one OPENBLAS_CORETYPE forced), and only when it
// is new.
TEST(CpuTuning, OnlyOpenBlasOwnChoiceIsRemembered) {
  load({"PATH=/usr/bin"});
  EXPECT_TRUE(should_remember_blas_choice(&fake_get, "Prescott", std::nullopt));
  EXPECT_TRUE(should_remember_blas_choice(&fake_get, "Prescott", std::string("Haswell")));
  EXPECT_FALSE(should_remember_blas_choice(&fake_get, "Prescott", std::string("Prescott")));
  EXPECT_FALSE(should_remember_blas_choice(&fake_get, "", std::nullopt));  // not OpenBLAS
  load({"OPENBLAS_CORETYPE=SkylakeX"});
  EXPECT_FALSE(should_remember_blas_choice(&fake_get, "SkylakeX", std::nullopt));
  load({"MOEDIL_NO_TUNE=yes"});
  EXPECT_FALSE(should_remember_blas_choice(&fake_get, "Prescott", std::nullopt));
}

// The log says when the user's environment, not OpenBLAS or moedil, chose the kernels.
TEST(CpuTuning, KernelsForcedByTheUserAreNamed) {
  load({"OPENBLAS_CORETYPE=Haswell"});
  EXPECT_EQ(blas_kernels_forced_by_user(&fake_get), "OPENBLAS_CORETYPE=Haswell in the environment");
  load({"OPENBLAS_CORETYPE=SkylakeX",
        std::string(kTuningVariable) + "=GOMP_SPINCOUNT=1000 (spin); OPENBLAS_CORETYPE=SkylakeX (old)"});
  EXPECT_EQ(blas_kernels_forced_by_user(&fake_get), "");
  load({"OPENBLAS_CORETYPE=Zen", std::string(kTuningVariable) + "=GOMP_SPINCOUNT=1000 (spin)"});
  EXPECT_EQ(blas_kernels_forced_by_user(&fake_get), "OPENBLAS_CORETYPE=Zen in the environment");
  load({"PATH=/usr/bin"});
  EXPECT_EQ(blas_kernels_forced_by_user(&fake_get), "");
}

/// A mutable environment array, as the process's own is: `texts` own the strings.
struct MutableEnv {
  std::vector<std::string> texts;
  std::vector<char*> slots;
  explicit MutableEnv(const std::vector<std::string>& entries) : texts(entries) {
    for (std::string& t : texts) slots.push_back(t.data());
    slots.push_back(nullptr);
  }
  /// The entries the array holds now, as strings.
  std::vector<std::string> now() const {
    std::vector<std::string> out;
    for (char* const* e = slots.data(); *e != nullptr; ++e) out.emplace_back(*e);
    return out;
  }
};

// The start's settings take the slots of the shell's bookkeeping ("_", SHLVL, ...) in the
// array's order, never a variable a library may read, and every slot comes back as it was.
TEST(CpuTuning, SettingsBorrowShellBookkeepingSlotsUntilMain) {
  const std::vector<std::string> before = {"PATH=/usr/bin", "_=/usr/bin/moedil", "HOME=/home/u",
                                           "OMP_NUM_THREADS=2", "SHLVL=1", "OLDPWD=/tmp"};
  MutableEnv env(before);
  std::string spin = "GOMP_SPINCOUNT=1000";
  std::string blas = "OPENBLAS_CORETYPE=SkylakeX";
  const std::vector<LentSlot> loans =
      lend_environment_slots(env.slots.data(), {spin.data(), blas.data()});
  ASSERT_EQ(loans.size(), 2u);
  EXPECT_EQ(loans[0].index, 1u);
  EXPECT_EQ(loans[1].index, 4u);
  EXPECT_EQ(env.now(), (std::vector<std::string>{"PATH=/usr/bin", spin, "HOME=/home/u",
                                                 "OMP_NUM_THREADS=2", blas, "OLDPWD=/tmp"}));
  // What a library's getenv sees meanwhile.
  load(env.now());
  EXPECT_EQ(fake_env.at("GOMP_SPINCOUNT"), "1000");
  EXPECT_EQ(fake_env.count("_"), 0u);
  return_environment_slots(env.slots.data(), env.slots.data(), loans);
  EXPECT_EQ(env.now(), before);
}

// Too few lendable slots: nothing is lent (the start restarts instead); a name that merely
// begins like a lendable one ("_X", "SHLVLS") or an entry without '=' is not lendable.
TEST(CpuTuning, TooFewLendableSlotsLendNothing) {
  const std::vector<std::string> before = {"PATH=/usr/bin", "_X=1", "SHLVLS=2", "SHLVL",
                                           "SHLVL=1"};
  MutableEnv env(before);
  std::string spin = "GOMP_SPINCOUNT=1000";
  std::string blas = "OPENBLAS_CORETYPE=Haswell";
  EXPECT_TRUE(lend_environment_slots(env.slots.data(), {spin.data(), blas.data()}).empty());
  EXPECT_EQ(env.now(), before);
  const std::vector<LentSlot> one = lend_environment_slots(env.slots.data(), {spin.data()});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].index, 4u);
  return_environment_slots(env.slots.data(), nullptr, one);
  EXPECT_EQ(env.now(), before);
  MutableEnv empty({});
  EXPECT_TRUE(lend_environment_slots(empty.slots.data(), {spin.data()}).empty());
}

// A library that calls unsetenv while the slots are lent moves the entries after the one it
// removes: the lent entry comes back where it is now, and no other entry is overwritten.
TEST(CpuTuning, LentSlotsComeBackAfterAnUnsetenvMovedThem) {
  MutableEnv env({"A=1", "B=2", "_=/usr/bin/moedil", "C=3"});
  std::string spin = "GOMP_SPINCOUNT=1000";
  const std::vector<LentSlot> loans = lend_environment_slots(env.slots.data(), {spin.data()});
  ASSERT_EQ(loans.size(), 1u);
  EXPECT_EQ(loans[0].index, 2u);
  env.slots.erase(env.slots.begin() + 1);  // what unsetenv("B") does to the array
  return_environment_slots(env.slots.data(), env.slots.data(), loans);
  EXPECT_EQ(env.now(), (std::vector<std::string>{"A=1", "_=/usr/bin/moedil", "C=3"}));
}

// A library that calls setenv while the slots are lent makes libc copy the array: the copy's
// lent entries come back too, and what the library added stays.
TEST(CpuTuning, LentSlotsComeBackInACopiedEnvironment) {
  const std::vector<std::string> before = {"_=/usr/bin/moedil", "PATH=/usr/bin"};
  MutableEnv env(before);
  std::string spin = "GOMP_SPINCOUNT=1000";
  const std::vector<LentSlot> loans = lend_environment_slots(env.slots.data(), {spin.data()});
  ASSERT_EQ(loans.size(), 1u);
  std::string added = "FROM_A_LIBRARY=1";
  std::vector<char*> copy(env.slots.begin(), env.slots.end() - 1);
  copy.push_back(added.data());
  copy.push_back(nullptr);
  return_environment_slots(env.slots.data(), copy.data(), loans);
  EXPECT_EQ(env.now(), before);
  EXPECT_STREQ(copy[0], "_=/usr/bin/moedil");
  EXPECT_STREQ(copy[2], "FROM_A_LIBRARY=1");
}

}  // namespace
}  // namespace moedil
