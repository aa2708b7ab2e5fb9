#include "moedil/batch/slurm.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "moedil/common/error.h"

namespace moedil::batch {
namespace {
namespace fs = std::filesystem;

SlurmOptions hostile() {
  SlurmOptions o;
  o.partition = "gpu";
  o.time = "1:00:00";
  o.gpus_per_task = 1;
  o.cpus_per_task = 4;
  o.max_parallel = 2;
  o.moedil = "/opt/my tools/moedil";
  o.metaconfig = "/home/u/it's $(rm -rf ~) `id`; echo pwned.jsonc";
  o.workdir = "/home/u/exp dir";
  o.log_dir = "/home/u/logs";
  o.job_name = "moedil-sweep";
  o.devices = "0";
  return o;
}

TEST(SbatchScript, HeaderArrayAndQuotedBody) {
  const std::string s = sbatch_script(hostile(), {"a-g0-00000000", "b_c-g1-11111111", "-x-g0-22222222"});
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_NE(s.find("#SBATCH --array=0-2%2\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --output=/home/u/logs/moedil-sweep-%A_%a.out\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --partition=gpu\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --time=1:00:00\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --gpus-per-task=1\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --cpus-per-task=4\n"), std::string::npos);
  EXPECT_NE(s.find("cd '/home/u/exp dir' || exit 2\n"), std::string::npos);
  EXPECT_NE(s.find("exec '/opt/my tools/moedil' batch '/home/u/it'\\''s $(rm -rf ~) `id`; echo "
                   "pwned.jsonc' --run-key=\"${keys[$SLURM_ARRAY_TASK_ID]}\" --devices 0\n"),
            std::string::npos)
      << s;
  SlurmOptions plain = hostile();
  plain.partition = plain.time = "";
  plain.gpus_per_task = plain.cpus_per_task = plain.max_parallel = 0;
  const std::string p = sbatch_script(plain, {"k"});
  EXPECT_NE(p.find("#SBATCH --array=0-0\n"), std::string::npos);
  EXPECT_EQ(p.find("--partition"), std::string::npos);
  EXPECT_EQ(p.find("--gpus-per-task"), std::string::npos);
}

TEST(SbatchScript, BashRunsTheQuotedCommandWithExactArguments) {
  // Replace exec's target by a recorder and run the script body under bash: each task must see
  // the hostile metaconfig path as one argument and its own key.
  const fs::path dir = fs::temp_directory_path() / ("moedil_sbatch_" + std::to_string(::getpid()));
  fs::create_directories(dir / "exp dir");
  const fs::path recorder = dir / "rec'ord $(x)";
  std::ofstream(recorder) << "#!/bin/bash\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done > \"" << (dir / "args").string() << "\"\n";
  fs::permissions(recorder, fs::perms::owner_all);
  SlurmOptions o = hostile();
  o.moedil = recorder;
  o.workdir = dir / "exp dir";
  const std::string s = sbatch_script(o, {"a-g0-00000000", "b-g1-11111111"});
  std::ofstream(dir / "job.sh") << s;
  const std::string cmd = "cd / && SLURM_ARRAY_TASK_ID=1 bash '" + (dir / "job.sh").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir / "args");
  std::string args((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(args, "<batch><" + o.metaconfig.string() + "><--run-key=b-g1-11111111><--devices><0>");
  EXPECT_FALSE(fs::exists("pwned"));
  fs::remove_all(dir);
}

TEST(SbatchScript, UnsafeSbatchValuesAreRefused) {
  SlurmOptions o = hostile();
  o.partition = "gpu\n#SBATCH --uid=0";
  EXPECT_THROW(sbatch_script(o, {"k"}), UsageError);
  o = hostile();
  o.time = "1:00 && x";
  EXPECT_THROW(sbatch_script(o, {"k"}), UsageError);
  o = hostile();
  o.log_dir = "/home/u/my logs";
  EXPECT_THROW(sbatch_script(o, {"k"}), UsageError);
  o = hostile();
  o.max_parallel = -1;
  EXPECT_THROW(sbatch_script(o, {"k"}), UsageError);
  EXPECT_THROW(sbatch_script(hostile(), {}), UsageError);
}

TEST(Submit, ParsesTheJobIdOfAFakeSbatch) {
  const fs::path dir = fs::temp_directory_path() / ("moedil_submit_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path ok = dir / "sbatch-ok";
  std::ofstream(ok) << "#!/bin/bash\n[ \"$1\" = --parsable ] || exit 9\n[ -f \"$2\" ] || exit 8\necho 4242\\;cluster\n";
  const fs::path bad = dir / "sbatch-bad";
  std::ofstream(bad) << "#!/bin/bash\necho 'sbatch: error: invalid partition specified: x' >&2\nexit 1\n";
  fs::permissions(ok, fs::perms::owner_all);
  fs::permissions(bad, fs::perms::owner_all);
  std::ofstream(dir / "job.sbatch") << "#!/bin/bash\n";
  EXPECT_EQ(submit_sbatch(dir / "job.sbatch", ok.string()), "4242");
  try {
    submit_sbatch(dir / "job.sbatch", bad.string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid partition specified"), std::string::npos);
  }
  EXPECT_THROW(submit_sbatch(dir / "job.sbatch", (dir / "no-sbatch").string()), IoError);
  fs::remove_all(dir);
}

TEST(RunCaptured, ExitCodeAndOutput) {
  const Captured c = run_captured({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(c.exit_code, 3);
  EXPECT_EQ(c.output, "out\nerr\n");
}

}  // namespace
}  // namespace moedil::batch
