#include "moedil/partition/rotate.h"

#include <cmath>
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
  const std::vector<double>& angles = c.partition.angles;
  std::vector<std::string> names;
  for (double angle : angles) {
    std::ostringstream name;
    name << "rot" << angle;
    names.push_back(name.str());
  }
  return transform_domains(
      d, c, names, [&](std::size_t j) { return rotate_images(d.images, angles[j]); }, "rotate");
}

}  // namespace moedil::partition
