#include "moedil/model/cblas.h"

#include <dlfcn.h>

namespace moedil::model::cblas {

Sgemm sgemm() {
  static const Sgemm fn = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  return fn;
}

}  // namespace moedil::model::cblas
