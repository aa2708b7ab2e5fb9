#pragma once
// Text helpers of the batch area: shell quoting (for Slurm scripts and displayed commands) and
// aligned plain-text tables (batch summary, status).
#include <string>
#include <string_view>
#include <vector>

#include "moedil/common/duration.h"

namespace moedil::batch {

/// One shell word that a POSIX shell reads back as exactly `s`: 's' in single quotes, each '
/// written as '\''. Words made only of [A-Za-z0-9_./:=%@+,-] are returned unquoted. Every
/// string that reaches a generated shell script goes through this function.
std::string shell_quote(std::string_view s);

/// Left-aligned columns separated by two spaces, a header row and a dashed rule under it.
/// Newlines and tabs inside cells are shown as spaces so a row stays one line; every other
/// control character as an escape (printable()), so cells read from run.json files cannot
/// drive the terminal.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

/// "1h02m", "3m05s", "12s" (common/duration.h, where the trainer's progress line takes it too).
using moedil::format_duration;

}  // namespace moedil::batch
