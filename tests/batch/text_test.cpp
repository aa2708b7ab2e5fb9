#include "moedil/batch/text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace moedil::batch {
namespace {

/// What /bin/sh makes of `printf %s WORD`: the word as the shell reads it back.
std::string shell_roundtrip(const std::string& word) {
  const std::string cmd = "printf %s " + word;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buffer[256];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  ::pclose(p);
  return out;
}

TEST(ShellQuote, PlainWordsStayUnquoted) {
  EXPECT_EQ(shell_quote("configs/a.jsonc"), "configs/a.jsonc");
  EXPECT_EQ(shell_quote("seeds.global=3"), "seeds.global=3");
}

TEST(ShellQuote, HostileStringsComeBackExactlyThroughARealShell) {
  for (const std::string s :
       {"a b", "it's", "$(touch /tmp/moedil_pwned)", "`id`", "x; rm -rf /", "a\"b", "\\n",
        "'", "''", "tab\there", "new\nline", "$HOME", "*", "~", "", "a|b&c>d<e", "!x"}) {
    EXPECT_EQ(shell_roundtrip(shell_quote(s)), s) << "input: " << s;
  }
}

TEST(FormatTable, AlignsColumnsAndKeepsRowsOnOneLine) {
  const std::string t = format_table({"A", "LONGER"}, {{"xxxx", "1"}, {"y", "two\nlines"}});
  EXPECT_EQ(t, "A     LONGER\n----  ---------\nxxxx  1\ny     two lines\n");
}

}  // namespace
}  // namespace moedil::batch
