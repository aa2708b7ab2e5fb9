#pragma once
// How long this process has been running, from the kernel's own record of its start (so the
// time to load the libraries before main counts too). Torch-free.
#include <optional>
#include <string_view>

namespace moedil {

/// The start time in clock ticks after boot: field 22 of a /proc/<pid>/stat line, counted from
/// the last ')' (the command name before it may hold spaces and parentheses); nullopt when the
/// line does not have it.
std::optional<unsigned long long> start_ticks_from_stat(std::string_view stat_line);

/// Seconds since this process started (its first exec; a restart by exec keeps it), from
/// /proc/self/stat and /proc/uptime, to the clock tick (10 ms); nullopt without /proc.
std::optional<double> seconds_since_process_start();

}  // namespace moedil
