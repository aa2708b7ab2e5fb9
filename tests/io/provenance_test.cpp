#include "moedil/io/provenance.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

const std::string kA = "0123456789abcdef0123456789abcdef01234567";
const std::string kB = "89abcdef0123456789abcdef0123456789abcdef";

class ProvenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_provenance_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void put(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  /// Output of a shell command (for comparing with git itself).
  static std::string output_of(const std::string& command) {
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
      char buffer[256];
      while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
      ::pclose(pipe);
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  fs::path dir_;
};

TEST_F(ProvenanceTest, TheBuildCommitIsKnownAtBuildTime) {
  EXPECT_FALSE(build_commit().empty());
  EXPECT_EQ(build_commit().find_first_of(" \n\"'$`;"), std::string::npos) << build_commit();
}

TEST_F(ProvenanceTest, ABranchIsReadFromItsLooseRefOrPackedRefsFromAnySubfolder) {
  put(dir_ / "repo/.git/HEAD", "ref: refs/heads/main\n");
  put(dir_ / "repo/.git/refs/heads/main", kA + "\n");
  fs::create_directories(dir_ / "repo/src/deep");
  EXPECT_EQ(worktree_commit(dir_ / "repo"), kA + " (main)");
  EXPECT_EQ(worktree_commit(dir_ / "repo/src/deep"), kA + " (main)");
  fs::remove(dir_ / "repo/.git/refs/heads/main");
  put(dir_ / "repo/.git/packed-refs",
      "# pack-refs with: peeled fully-peeled sorted\n" + kB + " refs/heads/main\n" + kA +
          " refs/tags/v1\n");
  EXPECT_EQ(worktree_commit(dir_ / "repo"), kB + " (main)");
}

TEST_F(ProvenanceTest, ADetachedHeadALinkedWorktreeAndNoRepository) {
  put(dir_ / "repo/.git/HEAD", kB + "\n");
  EXPECT_EQ(worktree_commit(dir_ / "repo"), kB);
  // A linked worktree: .git is a file naming its git dir, whose commondir holds the refs.
  put(dir_ / "repo/.git/worktrees/wt/HEAD", "ref: refs/heads/feature\n");
  put(dir_ / "repo/.git/worktrees/wt/commondir", "../..\n");
  put(dir_ / "repo/.git/refs/heads/feature", kA + "\n");
  put(dir_ / "wt/.git", "gitdir: " + (dir_ / "repo/.git/worktrees/wt").string() + "\n");
  EXPECT_EQ(worktree_commit(dir_ / "wt"), kA + " (feature)");
  // Outside any repository (the temp dir is not in one), or with nonsense in HEAD: nothing.
  fs::create_directories(dir_ / "plain");
  if (worktree_commit(fs::temp_directory_path()).empty()) {
    EXPECT_EQ(worktree_commit(dir_ / "plain"), "");
  }
  put(dir_ / "bad/.git/HEAD", "ref: refs/heads/../../../../etc/passwd\n");
  EXPECT_EQ(worktree_commit(dir_ / "bad"), "");
}

TEST_F(ProvenanceTest, AgreesWithGitOnARealRepository) {
  if (std::system("git --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no git";
  const std::string repo = (dir_ / "real").string();
  ASSERT_EQ(std::system(("git init -q -b trunk '" + repo + "' && cd '" + repo +
                         "' && echo x > f && git add f && git -c user.name=t -c "
                         "user.email=t@t commit -qm one")
                            .c_str()),
            0);
  const std::string head = output_of("git -C '" + repo + "' rev-parse HEAD");
  EXPECT_EQ(worktree_commit(repo), head + " (trunk)");
  ASSERT_EQ(std::system(("git -C '" + repo + "' pack-refs --all").c_str()), 0);
  EXPECT_EQ(worktree_commit(repo), head + " (trunk)");
}

}  // namespace
}  // namespace moedil::io
