#include "moedil/cli/typo_hint.h"

#include <gtest/gtest.h>

namespace moedil::cli {
namespace {

CliNames names() {
  CliNames n;
  n.subcommands["run"] = {"--threads", "--set", "--resume", "--run-dir"};
  n.subcommands["report"] = {"--out", "--format"};
  n.subcommands["status"] = {"--watch", "--interval"};
  n.global = {"--help", "--version"};
  return n;
}

TEST(TypoHint, AMistypedSubcommandGetsTheClosest) {
  EXPECT_EQ(typo_hint({"rn", "configs/quickstart.jsonc"}, names()),
            "no subcommand 'rn'; did you mean 'run'?");
  EXPECT_EQ(typo_hint({"reprot", "results"}, names()),
            "no subcommand 'reprot'; did you mean 'report'?");
  EXPECT_EQ(typo_hint({"frobnicate"}, names()), "") << "nothing close: no guess";
}

TEST(TypoHint, AMistypedOptionGetsTheClosestOfItsSubcommand) {
  EXPECT_EQ(typo_hint({"run", "c.jsonc", "--thread", "2"}, names()),
            "'run' has no option '--thread'; did you mean '--threads'?");
  EXPECT_EQ(typo_hint({"run", "c.jsonc", "--thread=2"}, names()),
            "'run' has no option '--thread'; did you mean '--threads'?");
  // --out is report's, not run's; --interva is status's.
  EXPECT_EQ(typo_hint({"status", "--interva", "3"}, names()),
            "'status' has no option '--interva'; did you mean '--interval'?");
  EXPECT_EQ(typo_hint({"--verison"}, names()),
            "moedil has no option '--verison'; did you mean '--version'?");
}

TEST(TypoHint, KnownNamesAndOperandsGetNoHint) {
  EXPECT_EQ(typo_hint({"run", "rn.jsonc", "--threads", "2", "--set", "a=1", "-h"}, names()), "");
  EXPECT_EQ(typo_hint({"report", "--help"}, names()), "");
  EXPECT_EQ(typo_hint({"run", "--", "--thread"}, names()), "") << "after --, operands only";
}

}  // namespace
}  // namespace moedil::cli
