#include "moedil/cli/typo_hint.h"

#include <algorithm>

#include "moedil/common/suggest.h"

namespace moedil::cli {

std::string typo_hint(const std::vector<std::string>& args, const CliNames& names) {
  std::vector<std::string> subcommands;
  for (const auto& [name, options] : names.subcommands) subcommands.push_back(name);
  const auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  const std::vector<std::string>* options = nullptr;
  std::string command;
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg.rfind("--", 0) == 0) {
      const std::string name = arg.substr(0, arg.find('='));
      if (known(names.global, name)) continue;
      std::vector<std::string> valid = names.global;
      if (options != nullptr) valid.insert(valid.end(), options->begin(), options->end());
      if (known(valid, name)) continue;
      const std::string best = closest_match(name, valid);
      if (best.empty()) return "";
      return (command.empty() ? std::string("moedil") : "'" + command + "'") +
             " has no option '" + name + "'; did you mean '" + best + "'?";
    }
    if (arg.rfind('-', 0) == 0 || !command.empty()) continue;  // a short option or an operand
    const auto it = names.subcommands.find(arg);
    if (it == names.subcommands.end()) {
      const std::string best = closest_match(arg, subcommands);
      return best.empty() ? "" : "no subcommand '" + arg + "'; did you mean '" + best + "'?";
    }
    command = arg;
    options = &it->second;
  }
  return "";
}

}  // namespace moedil::cli
