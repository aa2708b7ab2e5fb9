#pragma once
// Registries map config names to builders; `moedil list` prints them with their descriptions.
#include <string>
#include <utility>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"

namespace moedil {

/// Name -> (description, builder). An unknown name throws ConfigError listing the valid ones.
template <class Builder>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string description;
    Builder build;
  };

  explicit Registry(std::string what) : what_(std::move(what)) {}

  Registry& add(std::string name, std::string description, Builder build) {
    entries_.push_back({std::move(name), std::move(description), std::move(build)});
    return *this;
  }

  const Entry& get(const std::string& name) const {
    if (const Entry* entry = find(name)) return *entry;
    throw ConfigError(unknown_name_message(what_, name, names()));
  }

  /// The entry named `name`, or nullptr (for callers that report unknown names themselves).
  const Entry* find(const std::string& name) const {
    for (const auto& entry : entries_) {
      if (entry.name == name) return &entry;
    }
    return nullptr;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.name);
    return out;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<Entry> entries_;
};

/// Name and description of a registered item, for listings.
struct RegistryListing {
  std::string name;
  std::string description;
};

template <class Builder>
std::vector<RegistryListing> listing(const Registry<Builder>& registry) {
  std::vector<RegistryListing> out;
  for (const auto& entry : registry.entries()) out.push_back({entry.name, entry.description});
  return out;
}

}  // namespace moedil
