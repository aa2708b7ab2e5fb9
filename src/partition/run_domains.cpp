#include "moedil/partition/run_domains.h"

#include <algorithm>
#include <random>
#include <sstream>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/partition/registry.h"

namespace moedil::partition {

namespace {

/// Ids of the domains of d named in `names` (names d does not have are left to the
/// partitioner, which names them).
std::vector<bool> domains_named(const data::Dataset& d, const std::vector<std::string>& names) {
  std::vector<bool> out(d.domain_names.size(), false);
  for (std::size_t k = 0; k < d.domain_names.size(); ++k) {
    out[k] = std::find(names.begin(), names.end(), d.domain_names[k]) != names.end();
  }
  return out;
}

/// The rows the predecessor's draw may take: never a test row (the dataset's own test set
/// under test_split "dataset", a held-out test_settings domain), nor a domain that settings
/// leaves out (the predecessor loaded only the selected ones).
std::vector<int64_t> candidate_rows(const data::Dataset& d, const config::RunConfig& c) {
  std::vector<bool> usable(static_cast<std::size_t>(d.size()), true);
  if (c.test_split == "dataset" && d.has_test_split()) {
    const at::Tensor flags = d.is_test.to(at::kBool).contiguous();
    const bool* is_test = flags.data_ptr<bool>();
    for (int64_t r = 0; r < d.size(); ++r) usable[r] = usable[r] && !is_test[r];
  }
  if (d.has_domains() && (!c.settings.empty() || !c.test_settings.empty())) {
    const std::vector<bool> held_out = domains_named(d, c.test_settings);
    const std::vector<bool> selected = domains_named(d, c.settings);
    const at::Tensor ids = d.domain_ids.to(at::kLong).contiguous();
    const int64_t* id = ids.data_ptr<int64_t>();
    for (int64_t r = 0; r < d.size(); ++r) {
      const auto k = static_cast<std::size_t>(id[r]);
      if (k >= held_out.size()) continue;
      if (held_out[k] || (!c.settings.empty() && !selected[k])) usable[r] = false;
    }
  }
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < d.size(); ++r) {
    if (usable[r]) rows.push_back(r);
  }
  return rows;
}

}  // namespace

std::vector<int64_t> draw_pretraining_rows(int64_t n, const config::RunConfig& c) {
  const int64_t want = std::min(c.pretrain.num_samples, n);
  const uint64_t seed = mix_seed(seed_of(c.seeds.pretrain), {3000});
  std::vector<int64_t> rows;
  if (c.pretrain.with_replacement) {
    std::mt19937_64 engine(seed);
    for (int64_t k = 0; k < want; ++k) {
      rows.push_back(static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(n))));
    }
  } else {
    rows = random_permutation(n, seed);
    rows.resize(static_cast<std::size_t>(want));
  }
  return rows;
}

RunDomains make_run_domains(const data::Dataset& d, const config::RunConfig& c) {
  RunDomains out;
  const bool draws = c.pretrain.enabled && c.pretrain.num_samples > 0 &&
                     c.pretrain.draw == "dataset";
  if (!draws) {
    out.domains = make_domains(d, c);
    return out;
  }
  const std::vector<int64_t> candidates = candidate_rows(d, c);
  const auto n = static_cast<int64_t>(candidates.size());
  if (n == 0) throw DataError("pretrain: the dataset '" + d.name + "' has no samples to draw");
  std::vector<int64_t> rows = draw_pretraining_rows(n, c);
  for (int64_t& r : rows) r = candidates[static_cast<std::size_t>(r)];
  const at::Tensor drawn = data::index_tensor(rows);
  std::vector<int64_t> all(static_cast<std::size_t>(rows.size()));
  for (std::size_t k = 0; k < all.size(); ++k) all[k] = static_cast<int64_t>(k);
  out.pretraining = Domain{"pretrain", d.images.index_select(0, drawn).contiguous(),
                           d.labels.index_select(0, drawn), data::index_tensor(all),
                           data::index_tensor({})};
  if (c.pretrain.with_replacement) {
    out.domains = make_domains(d, c);
    return out;
  }
  std::vector<bool> taken(static_cast<std::size_t>(d.size()), false);
  for (int64_t r : rows) taken[static_cast<std::size_t>(r)] = true;
  std::vector<int64_t> rest;
  for (int64_t r = 0; r < d.size(); ++r) {
    if (!taken[static_cast<std::size_t>(r)]) rest.push_back(r);
  }
  config::RunConfig shrunk = c;
  if (c.test_split == "partition") {
    // The predecessor's: the configured count over the whole dataset, drawn or not.
    shrunk.train_frac =
        c.train_frac - static_cast<double>(c.pretrain.num_samples) / static_cast<double>(n);
    if (shrunk.train_frac <= 0.0) {
      std::ostringstream message;
      message << "pretrain.num_samples: " << c.pretrain.num_samples << " of the " << n
              << " samples of '" << d.name << "' shrink train_frac " << c.train_frac << " to "
              << shrunk.train_frac
              << " (the predecessor's draw takes them out of the domains): draw fewer, or use "
                 "pretrain.draw class_balanced or with_replacement";
      throw ConfigError(message.str());
    }
  }
  out.domains = make_domains(data::subset(d, data::index_tensor(rest)), shrunk);
  return out;
}

}  // namespace moedil::partition
