#pragma once
// The Vega library (https://vega.github.io/vega/) for the report's figures, assembled from
// Debian's libjs-vega. Debian ships Vega as one UMD file per module (vega-util, vega-scale, ...)
// with no single bundle, and loaded as plain <script>s each module would replace the global
// `vega` of the one before; the runtime wraps each in a function that gives it CommonJS's
// `module` and `require`, then builds the `vega` object as Vega's own index does (the modules'
// exports merged, every transform registered). The result is one script, inlined in the page
// so that it works offline and from a mail attachment.
#include <filesystem>
#include <string>

namespace moedil::report {

/// Where libjs-vega's files are: $MOEDIL_VEGA_DIR, else /usr/share/javascript/vega.
std::filesystem::path vega_dir();

struct VegaRuntime {
  std::string script;  ///< defines window.vega; empty when Vega is missing
  std::string missing;  ///< why there is no script ("" when there is), with what to install
  bool ok() const { return !script.empty(); }
};

/// Reads the modules a report needs from `dir` (parser, view, canvas renderer, the data and
/// encoding transforms; no geo, force, hierarchy, voronoi, word cloud). A missing module gives
/// a runtime with `missing` set, never an exception.
VegaRuntime load_vega_runtime(const std::filesystem::path& dir = vega_dir());

}  // namespace moedil::report
