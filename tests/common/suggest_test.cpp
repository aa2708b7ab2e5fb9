#include "moedil/common/suggest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/registry.h"

namespace moedil {
namespace {

const std::vector<std::string> kDatasets{"fashion_mnist", "mnist", "synthetic"};

TEST(EditDistanceTest, HandCases) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("sitting", "kitten"), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("abc", "abc"), 0u);
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("abcd", ""), 4u);
  EXPECT_EQ(edit_distance("abc", "abxc"), 1u);   // insertion
  EXPECT_EQ(edit_distance("abxc", "abc"), 1u);   // deletion
  EXPECT_EQ(edit_distance("abc", "axc"), 1u);    // substitution
  EXPECT_EQ(edit_distance("ab", "ba"), 2u);      // no transposition operation
  EXPECT_EQ(edit_distance("fashon_mnist", "fashion_mnist"), 1u);
}

TEST(ClosestMatchTest, FindsTypos) {
  EXPECT_EQ(closest_match("fashon_mnist", kDatasets), "fashion_mnist");
  EXPECT_EQ(closest_match("mnsit", kDatasets), "mnist");
  EXPECT_EQ(closest_match("synthtic", kDatasets), "synthetic");
  EXPECT_EQ(closest_match("mnist", kDatasets), "mnist");  // exact name, distance 0
}

TEST(ClosestMatchTest, FarNamesGiveEmpty) {
  EXPECT_EQ(closest_match("cifar10", kDatasets), "");
  EXPECT_EQ(closest_match("imagenet", kDatasets), "");
  EXPECT_EQ(closest_match("anything", {}), "");
}

TEST(ClosestMatchTest, LimitIsMaxOfTwoAndAThirdOfTheLength) {
  // |name| = 12: limit 4.
  EXPECT_EQ(closest_match("abcdefghijkl", {"abcdefghWXYZ"}), "abcdefghWXYZ");  // distance 4
  EXPECT_EQ(closest_match("abcdefghijkl", {"abcdefgVWXYZ"}), "");              // distance 5
  // |name| = 3: limit 2.
  EXPECT_EQ(closest_match("abc", {"aXY"}), "aXY");  // distance 2
  EXPECT_EQ(closest_match("abc", {"XYZ"}), "");     // distance 3
}

TEST(ClosestMatchTest, PicksTheClosestAndTheFirstOnTies) {
  EXPECT_EQ(closest_match("rotat", {"rotateXY", "rotate"}), "rotate");
  EXPECT_EQ(closest_match("abcX", {"abcY", "abcZ"}), "abcY");
}

TEST(UnknownNameMessageTest, WithSuggestion) {
  EXPECT_EQ(unknown_name_message("dataset", "fashon_mnist", kDatasets),
            "unknown dataset 'fashon_mnist'; did you mean 'fashion_mnist'? valid: "
            "fashion_mnist, mnist, synthetic");
}

TEST(UnknownNameMessageTest, WithoutSuggestion) {
  const std::string msg = unknown_name_message("partition type", "cifar10", kDatasets);
  EXPECT_EQ(msg.rfind("unknown partition type 'cifar10'", 0), 0u) << msg;
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid: fashion_mnist, mnist, synthetic"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

TEST(RegistryTest, GetKnownAndUnknownNames) {
  Registry<int> r("widget");
  r.add("alpha", "first", 1).add("beta", "second", 2);
  EXPECT_EQ(r.get("alpha").build, 1);
  EXPECT_EQ(r.get("beta").description, "second");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"alpha", "beta"}));
  try {
    r.get("alpah");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown widget 'alpah'; did you mean 'alpha'? valid: alpha, beta");
  }
  ASSERT_NE(r.find("beta"), nullptr);
  EXPECT_EQ(r.find("beta")->build, 2);
  EXPECT_EQ(r.find("alpah"), nullptr);
  const auto list = listing(r);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].name, "beta");
  EXPECT_EQ(list[1].description, "second");
}

}  // namespace
}  // namespace moedil
