#include "moedil/partition/rotate.h"

#include <cmath>
#include <numeric>
#include <sstream>

#include "moedil/common/random.h"

namespace moedil::partition {

at::Tensor rotate_images(const at::Tensor& images, double degrees) {
  if (degrees == 0.0 || images.size(0) == 0) return images;
  const double radians = degrees * M_PI / 180.0;
  const double c = std::cos(radians);
  const double s = std::sin(radians);
  // Output pixel p samples the input at R(-angle) p in pixel units (x right, y down), so the
  // content turns counter-clockwise on screen. The grid is in normalised coordinates
  // (x * W/2, y * H/2 are pixels), hence the aspect factors for non-square images.
  const double aspect = static_cast<double>(images.size(2)) / static_cast<double>(images.size(3));
  const at::Tensor theta = at::tensor({c, -s * aspect, 0.0, s / aspect, c, 0.0}, at::kFloat)
                               .view({1, 2, 3})
                               .expand({images.size(0), 2, 3});
  const at::Tensor grid =
      at::affine_grid_generator(theta.contiguous(), images.sizes(), /*align_corners=*/false);
  const at::Tensor rotated = at::grid_sampler(images.to(at::kFloat), grid, /*bilinear*/ 0,
                                              /*zeros*/ 0, /*align_corners=*/false);
  return rotated.round().clamp(0, 255).to(at::kByte).contiguous();
}

std::vector<Domain> rotate_domains(const data::Dataset& d, const config::RunConfig& c) {
  std::vector<int64_t> all(static_cast<std::size_t>(d.size()));
  std::iota(all.begin(), all.end(), int64_t{0});
  const auto [train_idx, test_idx] =
      split_domain(d, std::move(all), c, static_cast<uint64_t>(c.seeds.partition), "rotate");
  std::vector<Domain> domains;
  for (double angle : c.partition.angles) {
    std::ostringstream name;
    name << "rot" << angle;
    domains.push_back({name.str(), rotate_images(d.images, angle), d.labels, train_idx, test_idx});
  }
  return domains;
}

}  // namespace moedil::partition
