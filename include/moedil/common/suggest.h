#pragma once
// "Did you mean ...?" for unknown names: the closest candidate by edit distance.
#include <string>
#include <string_view>
#include <vector>

namespace moedil {

/// Levenshtein distance between a and b (insertions, deletions, substitutions cost 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `name`, or "" when none is close enough to be a plausible typo
/// (distance at most max(2, |name| / 3)).
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

/// "unknown X 'name'; did you mean 'y'? valid: a, b, c" in one line.
std::string unknown_name_message(std::string_view what, std::string_view name,
                                 const std::vector<std::string>& valid);

}  // namespace moedil
