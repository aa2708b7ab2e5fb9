#include "moedil/io/run_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

namespace moedil::io {
namespace {

std::filesystem::path fresh_dir(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(RunLock, OneHolderAtATimeAndFreedOnRelease) {
  const auto dir = fresh_dir("moedil_run_lock_test");
  EXPECT_FALSE(run_is_live(dir));
  {
    auto lock = RunLock::try_acquire(dir);
    ASSERT_TRUE(lock.has_value());
    // flock locks belong to the open file description: a second open in this process conflicts.
    EXPECT_FALSE(RunLock::try_acquire(dir).has_value());
    EXPECT_TRUE(run_is_live(dir));
  }
  EXPECT_FALSE(run_is_live(dir));
  EXPECT_TRUE(RunLock::try_acquire(dir).has_value());
  std::filesystem::remove_all(dir);
}

TEST(RunLock, AKilledHolderFreesTheLock) {
  const auto dir = fresh_dir("moedil_run_lock_kill_test");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = RunLock::try_acquire(dir);
    const char ok = lock ? '1' : '0';
    (void)!write(ready[1], &ok, 1);
    pause();
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  EXPECT_EQ(ok, '1');
  EXPECT_TRUE(run_is_live(dir));
  EXPECT_FALSE(RunLock::try_acquire(dir).has_value());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(run_is_live(dir));
  EXPECT_TRUE(RunLock::try_acquire(dir).has_value());
  close(ready[0]);
  close(ready[1]);
  std::filesystem::remove_all(dir);
}

TEST(RunLock, MissingDirectoryIsNotLiveAndCannotBeLocked) {
  const auto dir = std::filesystem::temp_directory_path() / "moedil_run_lock_absent";
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(run_is_live(dir));
  EXPECT_ANY_THROW(RunLock::try_acquire(dir));
}

}  // namespace
}  // namespace moedil::io
