// Guard of moedil's torch-free layers (common, config, metrics, io, batch, report; see
// CMakeLists.txt and ../shared/DESIGN.md, "Layout"). Their libraries put cmake/torch_free/ first
// on the include path, so this file shadows LibTorch's <torch/all.h>. The folder holds
// LibTorch's top-level headers and c10/macros/{Macros,Export}.h, which LibTorch's other headers
// include directly or through others (all but macro-only ones such as <torch/arg.h>). Reaching
// it means a torch-free layer included a LibTorch header, directly or through another header.
#error "moedil layering: this layer is torch-free and must not include LibTorch (<torch/all.h> reached); move the code to a layer that may use torch (data, partition, model, train) or include only torch-free headers"
