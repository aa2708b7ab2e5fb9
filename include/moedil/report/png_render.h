#pragma once
// PNGs for papers, rendered from the report's own Vega specs by a headless Chromium (Debian's
// chromium package): one browser process draws every figure with Vega's canvas renderer and
// hands back the images through its DOM dump. Without Chromium the report says so and has no
// PNGs; the page and the specs do not need them.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moedil::report {

/// The browser to use: $MOEDIL_CHROMIUM when set (it must exist), else the first of
/// /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/chromium-headless-shell that exists.
std::optional<std::filesystem::path> find_chromium();

/// The command-line flags (with a leading and a trailing space) that keep a headless Chromium
/// off the network: the pages it draws are files with every script inline, yet left alone it
/// looks up Google's hosts (accounts, component updates, sync) at every start, which on a
/// machine whose DNS does not answer can stall it. With these it resolves no name at all
/// (checked with strace: no DNS query). Headless, no sandbox (root), no GPU, no first-run.
std::string chromium_offline_flags();

struct PngJob {
  const nlohmann::json* spec = nullptr;               ///< a complete Vega spec
  nlohmann::json signals = nlohmann::json::object();  ///< set before drawing
};

/// Draws every job at `scale` times its size (2 = print resolution) and returns the PNG bytes
/// in job order. `vega_script` defines `vega` (VegaRuntime::script). Throws IoError when the
/// browser cannot be started, fails, times out (`timeout_s`) or a figure cannot be drawn, with
/// the browser's message (std::filesystem_error only if the temp directory cannot be written).
std::vector<std::vector<unsigned char>> render_pngs(const std::filesystem::path& chromium,
                                                    const std::string& vega_script,
                                                    const std::vector<PngJob>& jobs,
                                                    double scale = 2.0, int timeout_s = 300);

}  // namespace moedil::report
