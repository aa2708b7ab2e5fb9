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

TEST(SbatchScript, ResourcesExtraLinesAndSetup) {
  SlurmOptions o = hostile();
  o.mem = "16G";
  o.account = "proj-42";
  o.qos = "normal";
  o.gres = "gpu:a100:1";
  o.sbatch_lines = {"--constraint=a100", "--mail-type=END"};
  o.setup_lines = {"module load cuda/12.1", "source ~/venv/bin/activate"};
  const std::string s = sbatch_script(o, {"k"});
  for (const char* line : {"#SBATCH --mem=16G\n", "#SBATCH --account=proj-42\n",
                           "#SBATCH --qos=normal\n", "#SBATCH --gres=gpu:a100:1\n",
                           "#SBATCH --constraint=a100\n", "#SBATCH --mail-type=END\n"}) {
    EXPECT_NE(s.find(line), std::string::npos) << line << " in\n" << s;
  }
  // #SBATCH lines must come before the first command; the setup runs after cd, before moedil.
  EXPECT_LT(s.rfind("#SBATCH"), s.find("set -u"));
  const auto setup = s.find("\nmodule load cuda/12.1\nsource ~/venv/bin/activate\n");
  ASSERT_NE(setup, std::string::npos) << s;
  EXPECT_LT(s.find("cd '/home/u/exp dir'"), setup);
  EXPECT_LT(setup, s.find("exec '/opt/my tools/moedil'"));
  EXPECT_EQ(s.find("--requeue"), std::string::npos) << "requeueing is off unless asked";

  for (auto bad : {std::vector<std::string>{"constraint=a100"},
                   std::vector<std::string>{"--constraint=a100 --uid=0"},
                   std::vector<std::string>{"--x\n#SBATCH --uid=0"}}) {
    SlurmOptions b = hostile();
    b.sbatch_lines = bad;
    EXPECT_THROW(sbatch_script(b, {"k"}), UsageError) << bad[0];
  }
  SlurmOptions b = hostile();
  b.mem = "16G --uid=0";
  EXPECT_THROW(sbatch_script(b, {"k"}), UsageError);
  b = hostile();
  b.setup_lines = {"module load x\nrm -rf /"};
  EXPECT_THROW(sbatch_script(b, {"k"}), UsageError);
  b = hostile();
  b.requeue_before = -5;
  EXPECT_THROW(sbatch_script(b, {"k"}), UsageError);
}

TEST(SbatchScript, UsrOneStopsTheRunAndRequeuesTheTask) {
  // The script under bash with a fake moedil (records SIGTERM) and a fake scontrol (records its
  // arguments): USR1, as Slurm sends it --requeue-before seconds before the limit, must stop the
  // run and requeue this array task, and the task then exits 0.
  const fs::path dir = fs::temp_directory_path() / ("moedil_requeue_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "bin");
  const auto script = [&](const fs::path& path, const std::string& body) {
    std::ofstream(path) << "#!/bin/bash\n" << body;
    fs::permissions(path, fs::perms::owner_all);
  };
  script(dir / "bin/moedil",
         "trap 'echo term > " + (dir / "term").string() + "; exit 143' TERM\n"
         "echo \"$@\" > " + (dir / "started").string() + "\n"
         "for i in $(seq 1 300); do sleep 0.1; done\nexit 0\n");
  script(dir / "bin/scontrol", "echo \"$@\" > " + (dir / "scontrol").string() + "\n");
  SlurmOptions o = hostile();
  o.moedil = dir / "bin/moedil";
  o.workdir = dir;
  o.requeue_before = 300;
  const std::string s = sbatch_script(o, {"a-g0-00000000", "b-g1-11111111"});
  EXPECT_NE(s.find("#SBATCH --requeue\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --signal=B:USR1@300\n"), std::string::npos);
  std::ofstream(dir / "job.sh") << s;
  const std::string cmd =
      "cd '" + dir.string() + "' || exit 1\nPATH='" + (dir / "bin").string() + "':$PATH "
      "SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=1 bash job.sh > job.out 2>&1 & pid=$!; "
      "for i in $(seq 1 100); do [ -e '" + (dir / "started").string() + "' ] && break; "
      "sleep 0.05; done; kill -USR1 $pid; wait $pid; echo $? > '" + (dir / "rc").string() + "'";
  std::ofstream(dir / "drive.sh") << cmd << "\n";
  ASSERT_EQ(std::system(("bash '" + (dir / "drive.sh").string() + "'").c_str()), 0);
  const auto read = [&](const char* name) {
    std::ifstream in(dir / name);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_NE(read("started").find("--run-key=b-g1-11111111"), std::string::npos);
  EXPECT_EQ(read("term"), "term\n") << "the run got SIGTERM";
  EXPECT_EQ(read("scontrol"), "requeue 7_1\n");
  EXPECT_EQ(read("rc"), "0\n") << read("job.out");
  EXPECT_NE(read("job.out").find("requeueing 7_1"), std::string::npos) << read("job.out");
  fs::remove_all(dir);
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
