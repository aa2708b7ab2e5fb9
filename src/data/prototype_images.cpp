#include "moedil/data/prototype_images.h"

#include <string>
#include <vector>

#include "moedil/common/error.h"
#if MOEDIL_WITH_OPENCV
#include "moedil/data/image_decoder.h"
#include "moedil/data/image_files.h"
#endif

namespace moedil::data {

Dataset first_image_per_class(const std::filesystem::path& root, int64_t side, int64_t threads) {
  const std::string what = "model.prototype_init_dataset";
#if MOEDIL_WITH_OPENCV
  require_root(what, root, "<domain>/<class>/<image files>");
  ImageFileList list;
  for (const std::filesystem::path& domain : list_dir(root, /*folders=*/true)) {
    const std::vector<std::filesystem::path> classes = list_dir(domain, /*folders=*/true);
    if (classes.empty()) {
      throw DataError(what + ": the domain folder " + quote_path(domain) + " has no class folder");
    }
    for (std::size_t c = 0; c < classes.size(); ++c) {
      const std::vector<std::filesystem::path> images = list_dir(classes[c], /*folders=*/false);
      if (images.empty()) {
        throw DataError(what + ": the class folder " + quote_path(classes[c]) + " has no image");
      }
      ImageFile file;
      file.path = images.front();
      file.label = static_cast<int64_t>(c);
      file.domain_id = static_cast<int64_t>(list.domain_names.size());
      list.files.push_back(file);
    }
    list.domain_names.push_back(file_name(domain));
  }
  if (list.domain_names.empty()) {
    throw DataError(what + ": " + quote_path(root) + " has no domain folder (expected " +
                    "<domain>/<class>/<image files>)");
  }
  ImageLoadOptions options;
  options.resize = side;
  options.threads = threads;
  SkippedImages skipped;
  Dataset out = decode_images("prototype_init_dataset", root, list, options, skipped);
  out.domain_names = list.domain_names;
  return out;
#else
  // The folder helpers and the decoder are built with OpenCV only.
  (void)side;
  (void)threads;
  throw DataError(what + ": '" + root.string() +
                  "' cannot be read: this moedil was built without OpenCV, which decodes image "
                  "files");
#endif
}

}  // namespace moedil::data
