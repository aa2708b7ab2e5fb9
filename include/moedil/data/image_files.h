#pragma once
// The image files of a dataset stored as folders of images, found before anything is decoded:
// which files, with which label, domain and split, in which order. The layouts (image_folder,
// office_home, core50) scan their folders into an ImageFileList with these helpers; the image
// decoder and the image cache read it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace moedil::data {

/// One class folder and what its images are.
struct ClassFolder {
  std::string domain;  ///< domain name ("" without domains)
  std::string cls;     ///< class folder name
  std::filesystem::path dir;
  bool test = false;
  int64_t label = 0;
  int64_t domain_id = 0;
  int64_t order = 0;  ///< sort key within a domain (class index or object id)
};

/// One image file to decode.
struct ImageFile {
  std::filesystem::path path;
  int64_t label = 0;
  int64_t domain_id = 0;
  bool test = false;
  uintmax_t size = 0;
  int64_t mtime = 0;
};

/// A scanned dataset before decoding.
struct ImageFileList {
  std::vector<ImageFile> files;
  std::vector<std::string> class_names;
  std::vector<std::string> domain_names;  ///< empty: no domains
  bool has_test_split = false;
};

/// `'<path>'`, for messages.
std::string quote_path(const std::filesystem::path& p);

/// The last component of `p` as a string.
std::string file_name(const std::filesystem::path& p);

/// True for the names of the image files read (jpg, jpeg, png, bmp; any case).
bool is_image_name(const std::string& name);

/// Sub-folders (`folders`) or image files of `dir`, sorted by name. Hidden entries (".*") and
/// macOS zip debris (__MACOSX) are left out. Throws DataError when `dir` cannot be listed, and
/// when an entry named like an image is not a regular file (a FIFO would block the decoder).
std::vector<std::filesystem::path> list_dir(const std::filesystem::path& dir, bool folders);

/// DataError unless `root` is an existing folder; the message shows the expected layout.
void require_root(const std::string& what, const std::filesystem::path& root,
                  const std::string& layout);

/// DataError unless every domain has every class folder of the union; the message lists, per
/// domain, the classes it lacks.
void check_same_classes(const std::string& what, const std::filesystem::path& root,
                        const std::vector<ClassFolder>& dirs,
                        const std::vector<std::string>& domains);

/// Lists the images of every class folder (sorted by domain, split, class order, file name) and
/// stats them for the cache fingerprint. Throws DataError; InterruptedError on a stop request.
std::vector<ImageFile> collect_files(std::vector<ClassFolder> dirs);

/// Position of `name` in `names` (names.size() when absent).
int64_t index_of(const std::vector<std::string>& names, const std::string& name);

}  // namespace moedil::data
