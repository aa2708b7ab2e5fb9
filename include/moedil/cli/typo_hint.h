#pragma once
// "Did you mean ...?" for a mistyped subcommand or option on the command line, from the names
// the CLI knows (main.cpp reads them off CLI11). Torch- and CLI11-free.
#include <map>
#include <string>
#include <vector>

namespace moedil::cli {

/// The CLI's names: each subcommand with its long options ("--threads"); `global` holds the
/// options every command line takes ("--help", "--version").
struct CliNames {
  std::map<std::string, std::vector<std::string>> subcommands;
  std::vector<std::string> global;
};

/// A one-line hint for the first unknown name in `args` (argv without the program name): "no
/// subcommand 'rn'; did you mean 'run'?" or "'run' has no option '--thread'; did you mean
/// '--threads'?". "" when every name is known or nothing known is close (edit distance, as for
/// config keys).
std::string typo_hint(const std::vector<std::string>& args, const CliNames& names);

}  // namespace moedil::cli
