#include "moedil/model/classifier.h"

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"

namespace moedil::model {

void ClassifierImpl::force_expert(const std::string& layer, int64_t /*expert*/) {
  const std::vector<std::string> names = moe_layer_names();
  if (names.empty()) throw UsageError("this model has no MoE layers to fix an expert in");
  throw UsageError(unknown_name_message("MoE layer", layer, names));
}

}  // namespace moedil::model
