#include "moedil/common/safe_file.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"

namespace moedil {
namespace {

namespace fs = std::filesystem;

class SafeFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_safe_file_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// The DataError message of f(), which must throw one within 5 s (a blocked open would hang
  /// the test; the future then reports the hang instead).
  template <class F>
  std::string data_error_of(F f) {
    auto result = std::async(std::launch::async, [f] {
      try {
        f();
      } catch (const DataError& e) {
        return std::string(e.what());
      }
      return std::string("no DataError");
    });
    if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      ADD_FAILURE() << "blocked for 5 s";
      std::abort();  // the blocked thread cannot be joined
    }
    return result.get();
  }

  fs::path dir_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(SafeFileTest, ReadsARegularFileWholeAndThroughALink) {
  std::ofstream(dir_ / "a.bin", std::ios::binary) << std::string("abc\0def", 7);
  EXPECT_EQ(read_input_file(dir_ / "a.bin"), std::string("abc\0def", 7));
  fs::create_symlink(dir_ / "a.bin", dir_ / "link.bin");
  InputFile in(dir_ / "link.bin");
  EXPECT_EQ(in.size(), 7u);
  char buffer[16];
  EXPECT_EQ(in.read(buffer, sizeof buffer), 7u);
  EXPECT_EQ(in.read(buffer, sizeof buffer), 0u);
  EXPECT_NO_THROW(require_regular_file(dir_ / "link.bin"));
  std::ofstream(dir_ / "empty").flush();
  EXPECT_EQ(read_input_file(dir_ / "empty"), "");
}

TEST_F(SafeFileTest, AFifoIsRefusedAtOnceNamingIt) {
  const fs::path fifo = dir_ / "train-images-idx3-ubyte";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string msg = data_error_of([fifo] { InputFile in(fifo); });
  EXPECT_TRUE(contains(msg, fifo.string() + ": is a FIFO (named pipe), not a regular file"))
      << msg;
  msg = data_error_of([fifo] { read_input_file(fifo); });
  EXPECT_TRUE(contains(msg, "FIFO")) << msg;
  msg = data_error_of([fifo] { require_regular_file(fifo); });
  EXPECT_TRUE(contains(msg, fifo.string() + ": is a FIFO")) << msg;
  // Through a link too.
  fs::create_symlink(fifo, dir_ / "via_link");
  msg = data_error_of([this] { InputFile in(dir_ / "via_link"); });
  EXPECT_TRUE(contains(msg, "via_link: is a FIFO")) << msg;
}

TEST_F(SafeFileTest, DirectoriesSocketsDevicesLoopsAndDanglingLinksAreNamed) {
  fs::create_directories(dir_ / "folder");
  EXPECT_TRUE(contains(data_error_of([this] { InputFile in(dir_ / "folder"); }),
                       "folder: is a directory, not a regular file"));
  EXPECT_TRUE(contains(data_error_of([] { InputFile in("/dev/null"); }),
                       "/dev/null: is a character device"));
  const fs::path socket_path = dir_ / "s.sock";
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_TRUE(contains(data_error_of([&] { require_regular_file(socket_path); }),
                       "s.sock: is a socket"));
  ::close(sock);
  fs::create_symlink(dir_ / "loop_b", dir_ / "loop_a");
  fs::create_symlink(dir_ / "loop_a", dir_ / "loop_b");
  EXPECT_TRUE(contains(data_error_of([this] { InputFile in(dir_ / "loop_a"); }),
                       "loop_a: is a symbolic-link loop"));
  EXPECT_TRUE(contains(data_error_of([this] { require_regular_file(dir_ / "loop_a"); }),
                       "loop_a: is a symbolic-link loop"));
  EXPECT_TRUE(path_present(dir_ / "loop_a"));
  fs::create_symlink(dir_ / "gone", dir_ / "dangling");
  EXPECT_TRUE(contains(data_error_of([this] { InputFile in(dir_ / "dangling"); }),
                       "dangling: is a dangling symbolic link"));
  EXPECT_TRUE(path_present(dir_ / "dangling"));
  EXPECT_TRUE(contains(data_error_of([this] { InputFile in(dir_ / "absent"); }),
                       "absent: file does not exist"));
  EXPECT_FALSE(path_present(dir_ / "absent"));
}

TEST_F(SafeFileTest, AStopRequestEndsALongReadBetweenChunks) {
  const std::string big(40 << 20, 'x');  // three chunks of 16 MiB
  std::ofstream(dir_ / "big.bin", std::ios::binary) << big;
  std::ofstream(dir_ / "small.json") << "{}";
  stop_flag().store(15);
  // A small file is still read whole (the outcome of a stopped run must be recordable).
  EXPECT_EQ(read_input_file(dir_ / "small.json"), "{}");
  InputFile in(dir_ / "big.bin");
  std::string buffer(big.size(), '\0');
  try {
    in.read(buffer.data(), buffer.size());
    ADD_FAILURE() << "read went on after a stop request";
  } catch (const InterruptedError& e) {
    EXPECT_EQ(e.signal(), 15);
    EXPECT_TRUE(contains(e.what(), "interrupted while reading " + (dir_ / "big.bin").string()))
        << e.what();
  }
  stop_flag().store(0);
}

TEST_F(SafeFileTest, AppendingCreatesAndAppendsButNeverFollowsALink) {
  const fs::path log = dir_ / "run.log";
  for (const char* line : {"one\n", "two\n"}) {
    const int fd = open_append_no_follow(log);
    ASSERT_EQ(::write(fd, line, 4), 4);
    ::close(fd);
  }
  EXPECT_EQ(read_input_file(log), "one\ntwo\n");
  EXPECT_EQ(fs::status(log).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);

  // A link planted at the name (to a file of someone else's) is refused; the target is intact.
  std::ofstream(dir_ / "victim") << "precious\n";
  fs::create_symlink(dir_ / "victim", dir_ / "planted.out");
  try {
    open_append_no_follow(dir_ / "planted.out");
    ADD_FAILURE() << "followed a planted link";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(e.what(), "planted.out: is a symbolic link")) << e.what();
  }
  EXPECT_EQ(read_input_file(dir_ / "victim"), "precious\n");
  // A dangling link is refused too (O_CREAT would otherwise create its target).
  fs::create_symlink(dir_ / "would_be_created", dir_ / "dangling.out");
  EXPECT_THROW(open_append_no_follow(dir_ / "dangling.out"), IoError);
  EXPECT_FALSE(fs::exists(dir_ / "would_be_created"));
  // A FIFO is refused without waiting for a reader.
  ASSERT_EQ(::mkfifo((dir_ / "fifo.out").c_str(), 0644), 0);
  try {
    open_append_no_follow(dir_ / "fifo.out");
    ADD_FAILURE() << "opened a FIFO for appending";
  } catch (const IoError& e) {
    EXPECT_TRUE(contains(e.what(), "fifo.out: is a FIFO")) << e.what();
  }
}

}  // namespace
}  // namespace moedil
