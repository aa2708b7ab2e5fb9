#include "moedil/report/vega_runtime.h"

#include <cctype>
#include <cstdlib>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"

namespace moedil::report {
namespace fs = std::filesystem;
namespace {

struct Module {
  const char* file;  ///< file stem in libjs-vega
  const char* name;  ///< the name the other modules require() it by
};

// In dependency order: each module requires only modules above it.
constexpr Module kModules[] = {
    {"vega-util", "vega-util"},
    {"vega-statistics", "vega-statistics"},
    {"vega-time", "vega-time"},
    {"vega-format", "vega-format"},
    {"vega-loader", "vega-loader"},
    {"vega-dataflow", "vega-dataflow"},
    {"vega-scale", "vega-scale"},
    {"vega-canvas", "vega-canvas"},
    {"vega-scenegraph", "vega-scenegraph"},
    {"vega-expression", "vega-expression"},
    {"vega-selection", "vega-selections"},  // Debian's file name drops the module's 's'
    {"vega-event-selector", "vega-event-selector"},
    {"vega-functions", "vega-functions"},
    {"vega-runtime", "vega-runtime"},
    {"vega-view", "vega-view"},
    {"vega-parser", "vega-parser"},
    {"vega-encode", "vega-encode"},
    {"vega-transforms", "vega-transforms"},
    {"vega-view-transforms", "vega-view-transforms"},
};

// What Vega's index re-exports (vega/index.js), merged into one object; the first module to
// export a name wins, as with index.js's explicit lists.
constexpr const char* kExported[] = {
    "vega-statistics", "vega-time", "vega-util", "vega-loader", "vega-scenegraph",
    "vega-dataflow", "vega-scale", "vega-view", "vega-format", "vega-functions",
    "vega-parser", "vega-runtime", "vega-expression", "vega-event-selector"};

// Safe inside <script>: the only text that could end the element early is "</script"; in
// JavaScript source "<\/" means the same inside strings, regexes and comments.
std::string script_safe(std::string s) {
  for (std::size_t i = 0; (i = s.find("</", i)) != std::string::npos; i += 3) {
    std::string next = s.substr(i + 2, 6);
    for (char& ch : next) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (next == "script") s.insert(i + 1, "\\");
  }
  return s;
}

}  // namespace

fs::path vega_dir() {
  const char* env = std::getenv("MOEDIL_VEGA_DIR");
  return env && *env ? fs::path(env) : fs::path("/usr/share/javascript/vega");
}

VegaRuntime load_vega_runtime(const fs::path& dir) {
  VegaRuntime rt;
  std::string js =
      "(function () {\nvar M = {};\n"
      "function def(name, body) {\n"
      "  var module = {exports: {}};\n"
      "  body(module, module.exports, function (dep) {\n"
      "    if (!(dep in M)) throw new Error('moedil vega runtime: ' + name + ' needs ' + dep);\n"
      "    return M[dep];\n"
      "  });\n"
      "  M[name] = module.exports;\n"
      "}\n";
  for (const Module& m : kModules) {
    const fs::path min = dir / (std::string(m.file) + ".min.js");
    const fs::path full = dir / (std::string(m.file) + ".js");
    if (!path_present(min) && !path_present(full)) {
      rt.missing = "Vega is not installed: " + min.string() +
                   " is missing (apt-get install libjs-vega, or set MOEDIL_VEGA_DIR to its "
                   "directory)";
      return rt;
    }
    std::string src;
    try {
      src = read_input_file(path_present(min) ? min : full);
    } catch (const DataError& e) {  // unreadable, a directory, ...: no figures, not a failed report
      rt.missing = std::string("Vega cannot be read: ") + e.what();
      return rt;
    }
    // The source map comment would make a browser's developer tools fetch a file that is not
    // beside the page.
    const std::size_t map = src.rfind("//# sourceMappingURL=");
    if (map != std::string::npos) src.erase(map);
    js += "def('" + std::string(m.name) + "', function (module, exports, require) {\n" +
          script_safe(src) + "\n});\n";
  }
  js += "var vega = {};\n[";
  bool first = true;
  for (const char* name : kExported) {
    js += std::string(first ? "" : ", ") + "'" + name + "'";
    first = false;
  }
  js +=
      "].forEach(function (name) {\n"
      "  var m = M[name];\n"
      "  Object.keys(m).forEach(function (k) { if (!(k in vega)) vega[k] = m[k]; });\n"
      "});\n"
      // Vega's index registers every transform module's exports with the dataflow.
      "Object.assign(M['vega-dataflow'].transforms, M['vega-transforms'], "
      "M['vega-view-transforms'], M['vega-encode']);\n"
      "window.vega = vega;\n})();\n";
  rt.script = std::move(js);
  return rt;
}

}  // namespace moedil::report
