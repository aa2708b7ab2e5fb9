#pragma once
// The parameter count of a configured model, computed from the config alone (no tensor is
// allocated), so that a model too large for the machine is refused before it is built.
// Torch-free.
#include <cstdint>

#include "moedil/config/run_config.h"

namespace moedil::model {

/// Images a model is built for (the dataset's channels, side lengths and class count).
struct ImageSpec {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
};

/// Number of parameters (trainable or not) the registered family m.name has for `input`:
/// exactly what make_model(m, ...) would allocate (model tests check this for every family),
/// as a double so that any validated config is counted without overflow. A patch size that
/// does not divide the image is rounded down (make_model refuses it anyway). Throws
/// ConfigError for a family it does not know.
double estimate_parameters(const config::ModelConfig& m, const ImageSpec& input);

}  // namespace moedil::model
