#include "moedil/partition/rotate.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "moedil/common/random.h"
#include "moedil/common/stop.h"

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
                               .view({1, 2, 3});
  // In chunks: the float copy and the sampling grid of a whole dataset would be 12x its size,
  // and a stop request is honoured between chunks. Each image is rotated on its own, so the
  // result does not depend on the chunking.
  constexpr int64_t kChunk = 1024;
  const int64_t n = images.size(0);
  at::Tensor out = at::empty(images.sizes(), images.options().dtype(at::kByte));
  for (int64_t start = 0; start < n; start += kChunk) {
    throw_if_stopped("rotating the images");
    const int64_t len = std::min(kChunk, n - start);
    const at::Tensor part = images.narrow(0, start, len);
    const at::Tensor grid = at::affine_grid_generator(theta.expand({len, 2, 3}).contiguous(),
                                                      part.sizes(), /*align_corners=*/false);
    const at::Tensor rotated = at::grid_sampler(part.to(at::kFloat), grid, /*bilinear*/ 0,
                                                /*zeros*/ 0, /*align_corners=*/false);
    out.narrow(0, start, len).copy_(rotated.round().clamp(0, 255).to(at::kByte));
  }
  return out;
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
