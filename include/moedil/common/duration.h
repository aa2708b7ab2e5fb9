#pragma once
// A duration as people read it in a table or a progress line.
#include <string>

namespace moedil {

/// "1h02m", "3m05s", "12s"; "-" for negative or NaN values.
std::string format_duration(double seconds);

}  // namespace moedil
