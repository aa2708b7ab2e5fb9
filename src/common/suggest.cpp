#include "moedil/common/suggest.h"

#include <algorithm>
#include <numeric>

#include "moedil/common/excerpt.h"

namespace moedil {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view name, const std::vector<std::string>& candidates) {
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    // The distance is at least the difference in length: skip the quadratic computation when
    // that alone rules the candidate out (a 10 MB name against short keys).
    const std::size_t length_gap = name.size() > candidate.size() ? name.size() - candidate.size()
                                                                  : candidate.size() - name.size();
    if (length_gap >= best_distance) continue;
    const std::size_t d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string unknown_name_message(std::string_view what, std::string_view name,
                                 const std::vector<std::string>& valid) {
  std::string message = "unknown " + std::string(what) + " '" + excerpt(name) + "'";
  const std::string guess = closest_match(name, valid);
  if (!guess.empty()) message += "; did you mean '" + guess + "'?";
  message += guess.empty() ? "; valid: " : " valid: ";
  for (std::size_t i = 0; i < valid.size(); ++i) message += (i ? ", " : "") + valid[i];
  return message;
}

}  // namespace moedil
