#include "moedil/report/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "moedil/common/error.h"

namespace moedil::report {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kLabelScale = 0.5;
constexpr double kTitleScale = 0.65;
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kGrey(128, 128, 128);
const cv::Scalar kGrid(225, 225, 225);
const cv::Scalar kWhite(255, 255, 255);

// tab10, BGR.
const cv::Scalar kPalette[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},  {40, 39, 214},
                               {189, 103, 148}, {75, 86, 140}, {194, 119, 227}, {127, 127, 127},
                               {34, 189, 188},  {207, 190, 23}};

cv::Scalar colour(std::size_t i) {
  const cv::Scalar base = kPalette[i % std::size(kPalette)];
  if (i < std::size(kPalette)) return base;
  // past ten series: lighter variants
  const double f = 0.5;
  return {base[0] + (255 - base[0]) * f, base[1] + (255 - base[1]) * f,
          base[2] + (255 - base[2]) * f};
}

enum class Align { Left, Center, Right };

cv::Size text_size(const std::string& s, double scale, int thickness = 1) {
  int base = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &base);
}

// Draws `s` with its baseline-left corner placed so that the text is aligned horizontally at
// x and vertically centred on y.
void put(cv::Mat& img, const std::string& s, int x, int y, double scale,
         const cv::Scalar& c = kBlack, Align align = Align::Left, int thickness = 1) {
  const cv::Size sz = text_size(s, scale, thickness);
  int left = x;
  if (align == Align::Center) left = x - sz.width / 2;
  if (align == Align::Right) left = x - sz.width;
  cv::putText(img, s, {left, y + sz.height / 2}, kFont, scale, c, thickness, cv::LINE_AA);
}

// Text rotated 90 degrees counter-clockwise, centred on (cx, cy).
void put_vertical(cv::Mat& img, const std::string& s, int cx, int cy, double scale) {
  const cv::Size sz = text_size(s, scale);
  cv::Mat tmp(sz.height + 8, sz.width + 4, CV_8UC3, kWhite);
  cv::putText(tmp, s, {2, sz.height + 3}, kFont, scale, kBlack, 1, cv::LINE_AA);
  cv::Mat rot;
  cv::rotate(tmp, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
  const int x0 = std::clamp(cx - rot.cols / 2, 0, std::max(0, img.cols - rot.cols));
  const int y0 = std::clamp(cy - rot.rows / 2, 0, std::max(0, img.rows - rot.rows));
  const cv::Rect roi(x0, y0, std::min(rot.cols, img.cols - x0), std::min(rot.rows, img.rows - y0));
  rot(cv::Rect(0, 0, roi.width, roi.height)).copyTo(img(roi));
}

// Centred at the top, shrunk to fit the width.
void put_title(cv::Mat& img, const std::string& title) {
  const int width = text_size(title, kTitleScale).width;
  const double scale =
      width > img.cols - 20 ? std::max(0.3, kTitleScale * (img.cols - 20) / width) : kTitleScale;
  put(img, title, img.cols / 2, 20, scale, kBlack, Align::Center, 1);
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void dashed_vline(cv::Mat& img, int x, int y0, int y1, const cv::Scalar& c) {
  for (int y = y0; y < y1; y += 10) cv::line(img, {x, y}, {x, std::min(y + 5, y1)}, c, 1);
}

// A plot area mapping data coordinates to pixels.
struct Axes {
  cv::Rect area;
  double x0, x1, y0, y1;
  cv::Point map(double x, double y) const {
    const double fx = x1 > x0 ? (x - x0) / (x1 - x0) : 0.5;
    const double fy = y1 > y0 ? (y - y0) / (y1 - y0) : 0.5;
    return {area.x + static_cast<int>(std::lround(fx * area.width)),
            area.y + area.height - static_cast<int>(std::lround(fy * area.height))};
  }
};

// Frame, horizontal grid lines and y tick labels every `ystep`, axis labels.
void draw_axes(cv::Mat& img, const Axes& ax, double ystep, int ydecimals, const std::string& xlabel,
               const std::string& ylabel) {
  for (double y = ax.y0; y <= ax.y1 + 1e-9; y += ystep) {
    const cv::Point p = ax.map(ax.x0, y);
    cv::line(img, p, {ax.area.x + ax.area.width, p.y}, kGrid, 1);
    put(img, fixed(y, ydecimals), p.x - 6, p.y, 0.42, kBlack, Align::Right);
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  put(img, xlabel, ax.area.x + ax.area.width / 2, ax.area.y + ax.area.height + 42, kLabelScale,
      kBlack, Align::Center);
  put_vertical(img, ylabel, ax.area.x - 55, ax.area.y + ax.area.height / 2, kLabelScale);
}

struct LegendEntry {
  std::string label;
  cv::Scalar colour;
};

// Legend box at (x, y), top-left, entries one per line.
void draw_legend(cv::Mat& img, const std::vector<LegendEntry>& entries, int x, int y,
                 const std::string& heading = "") {
  int width = text_size(heading, kLabelScale).width;
  for (const auto& e : entries) width = std::max(width, text_size(e.label, 0.45).width + 30);
  const int line_h = 20;
  const int rows = static_cast<int>(entries.size()) + (heading.empty() ? 0 : 1);
  cv::rectangle(img, {x, y, width + 16, rows * line_h + 10}, kGrey, 1);
  int yy = y + 5 + line_h / 2;
  if (!heading.empty()) {
    put(img, heading, x + 8, yy, 0.45, kBlack);
    yy += line_h;
  }
  for (const auto& e : entries) {
    cv::rectangle(img, {x + 8, yy - 6, 18, 12}, e.colour, cv::FILLED);
    put(img, e.label, x + 32, yy, 0.45);
    yy += line_h;
  }
}

int legend_width(const std::vector<std::string>& labels, const std::string& heading = "") {
  int width = text_size(heading, kLabelScale).width;
  for (const auto& l : labels) width = std::max(width, text_size(l, 0.45).width + 30);
  return width + 16;
}

Png encode(const cv::Mat& img) {
  Png out;
  if (!cv::imencode(".png", img, out)) throw IoError("could not encode a PNG image");
  return out;
}

cv::Scalar viridis(double f) {
  // Viridis anchors, RGB; interpolated.
  static const double k[][3] = {{68, 1, 84},    {72, 40, 120},  {62, 74, 137}, {49, 104, 142},
                                {38, 130, 142}, {31, 158, 137}, {53, 183, 121}, {109, 205, 89},
                                {180, 222, 44}, {253, 231, 37}};
  f = std::clamp(std::isfinite(f) ? f : 0.0, 0.0, 1.0) * 9.0;
  const int i = std::min(8, static_cast<int>(f));
  const double t = f - i;
  double rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = k[i][c] + (k[i + 1][c] - k[i][c]) * t;
  return {rgb[2], rgb[1], rgb[0]};
}

bool dark(const cv::Scalar& c) { return 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2] < 128; }

// A heatmap of `value` (colour fraction in [0,1]) with `text` in each cell, row and column
// labels, axis titles and a colour bar.
template <class Value, class Text>
Png heatmap(int rows, int cols, Value value, Text text, const std::vector<std::string>& row_labels,
            const std::vector<std::string>& col_labels, const std::string& title,
            const std::string& xlabel, const std::string& ylabel, const std::string& bar_label,
            PlotSize size) {
  cv::Mat img(size.height, size.width, CV_8UC3, kWhite);
  put_title(img, title);
  int label_w = 0;
  for (const auto& l : row_labels) label_w = std::max(label_w, text_size(l, 0.45).width);
  const int left = 40 + label_w + 10, top = 50, right = 110, bottom = 80;
  const int cell = std::max(4, std::min((size.width - left - right) / std::max(cols, 1),
                                        (size.height - top - bottom) / std::max(rows, 1)));
  const int gx = left, gy = top;
  double scale = 0.5;
  int widest = 0;
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) widest = std::max(widest, text_size(text(i, j), 1.0).width);
  if (widest > 0) scale = std::clamp(0.8 * cell / widest, 0.25, 0.55);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      const cv::Rect r(gx + j * cell, gy + i * cell, cell, cell);
      const cv::Scalar c = viridis(value(i, j));
      cv::rectangle(img, r, c, cv::FILLED);
      put(img, text(i, j), r.x + cell / 2, r.y + cell / 2, scale, dark(c) ? kWhite : kBlack,
          Align::Center);
    }
  }
  cv::rectangle(img, {gx, gy, cols * cell, rows * cell}, kBlack, 1);
  for (int i = 0; i < rows && i < static_cast<int>(row_labels.size()); ++i) {
    put(img, row_labels[i], gx - 6, gy + i * cell + cell / 2, 0.45, kBlack, Align::Right);
  }
  // Column labels: horizontal when they fit, else rotated.
  int col_w = 0;
  for (const auto& l : col_labels) col_w = std::max(col_w, text_size(l, 0.45).width);
  for (int j = 0; j < cols && j < static_cast<int>(col_labels.size()); ++j) {
    const int cx = gx + j * cell + cell / 2, y = gy + rows * cell + 14;
    if (col_w <= cell - 4) {
      put(img, col_labels[j], cx, y, 0.45, kBlack, Align::Center);
    } else {
      put_vertical(img, col_labels[j], cx, y + col_w / 2, 0.4);
    }
  }
  const int label_y = gy + rows * cell + (col_w <= cell - 4 ? 40 : std::min(col_w + 26, bottom - 8));
  put(img, xlabel, gx + cols * cell / 2, label_y, kLabelScale, kBlack, Align::Center);
  put_vertical(img, ylabel, 18, gy + rows * cell / 2, kLabelScale);
  // colour bar
  const int bx = gx + cols * cell + 30, bh = rows * cell;
  for (int y = 0; y < bh; ++y) {
    cv::line(img, {bx, gy + y}, {bx + 16, gy + y}, viridis(1.0 - static_cast<double>(y) / bh));
  }
  cv::rectangle(img, {bx, gy, 17, bh}, kBlack, 1);
  for (double f : {0.0, 0.5, 1.0}) {
    put(img, fixed(f, 1), bx + 22, gy + static_cast<int>((1.0 - f) * bh), 0.4);
  }
  put_vertical(img, bar_label, bx + 68, gy + bh / 2, 0.45);
  return encode(img);
}

std::string domain_label(const std::vector<std::string>& domains, std::size_t i) {
  return i < domains.size() ? domains[i] : std::to_string(i);
}

// Marks the boundaries between training domains on a plot whose x is the global epoch index
// (epoch k drawn at x = k + 1), and names each domain above its band.
void mark_domains(cv::Mat& img, const Axes& ax, const io::RunRecord& run) {
  const auto& ep = run.epochs;
  std::size_t start = 0;
  for (std::size_t k = 1; k <= ep.size(); ++k) {
    if (k < ep.size() && ep[k].domain == ep[start].domain) continue;
    const double lo = static_cast<double>(start) + 0.5, hi = static_cast<double>(k) + 0.5;
    if (start > 0) {
      const int x = ax.map(lo, ax.y0).x;
      dashed_vline(img, x, ax.area.y, ax.area.y + ax.area.height, kGrey);
    }
    const int cx = (ax.map(lo, ax.y0).x + ax.map(hi, ax.y0).x) / 2;
    put(img, "train " + domain_label(run.domains, static_cast<std::size_t>(ep[start].domain)), cx,
        ax.area.y - 10, 0.42, kGrey, Align::Center);
    start = k;
  }
}

// x tick labels at integer epochs, thinned to at most ~20.
void epoch_ticks(cv::Mat& img, const Axes& ax, int first, int last) {
  const int step = std::max(1, (last - first + 1) / 20 + ((last - first + 1) % 20 ? 1 : 0));
  for (int x = first; x <= last; x += step) {
    const cv::Point p = ax.map(x, ax.y0);
    cv::line(img, p, {p.x, p.y + 4}, kBlack, 1);
    put(img, std::to_string(x), p.x, p.y + 16, 0.42, kBlack, Align::Center);
  }
}

}  // namespace

Png plot_r_matrix(const std::vector<std::vector<double>>& r, const std::vector<std::string>& domains,
                  const std::string& title, PlotSize size) {
  if (r.empty() || r[0].empty()) throw DataError("R-matrix plot: the matrix is empty");
  const std::size_t cols = r[0].size();
  for (const auto& row : r) {
    if (row.size() != cols) throw DataError("R-matrix plot: rows of different lengths");
  }
  std::vector<std::string> row_labels, col_labels;
  for (std::size_t i = 0; i < r.size(); ++i) row_labels.push_back(domain_label(domains, i));
  for (std::size_t j = 0; j < cols; ++j) col_labels.push_back(domain_label(domains, j));
  return heatmap(
      static_cast<int>(r.size()), static_cast<int>(cols), [&](int i, int j) { return r[i][j]; },
      [&](int i, int j) { return fixed(r[i][j], 2); }, row_labels, col_labels, title,
      "evaluated domain j", "after training domain i", "accuracy", size);
}

Png plot_confusion(const std::vector<std::vector<int64_t>>& m, const std::string& title,
                   PlotSize size) {
  if (m.empty()) throw DataError("confusion plot: the matrix is empty");
  for (const auto& row : m) {
    if (row.size() != m.size()) throw DataError("confusion plot: the matrix is not square");
  }
  std::vector<int64_t> row_sum(m.size(), 0);
  for (std::size_t i = 0; i < m.size(); ++i)
    for (int64_t v : m[i]) row_sum[i] += v;
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < m.size(); ++i) labels.push_back(std::to_string(i));
  const int n = static_cast<int>(m.size());
  return heatmap(
      n, n,
      [&](int i, int j) {
        return row_sum[i] > 0 ? static_cast<double>(m[i][j]) / static_cast<double>(row_sum[i])
                              : 0.0;
      },
      [&](int i, int j) { return std::to_string(m[i][j]); }, labels, labels, title,
      "predicted class", "true class", "fraction of the true class", size);
}

Png plot_accuracy_curves(const io::RunRecord& run, const std::string& title, PlotSize size) {
  if (run.epochs.empty()) throw DataError("accuracy plot: the run has no epoch");
  std::size_t ndom = run.domains.size();
  for (const auto& e : run.epochs) ndom = std::max(ndom, e.eval.size());
  std::vector<std::string> labels;
  for (std::size_t j = 0; j < ndom; ++j) labels.push_back("eval " + domain_label(run.domains, j));
  const int lw = legend_width(labels, "domain");
  cv::Mat img(size.height, size.width, CV_8UC3, kWhite);
  put_title(img, title);
  const int n = static_cast<int>(run.epochs.size());
  const Axes ax{{80, 60, size.width - 80 - lw - 30, size.height - 60 - 70}, -0.5, n + 0.5, 0.0, 1.0};
  draw_axes(img, ax, 0.1, 1, "epoch (across all domains; 0 = before training)", "accuracy");
  mark_domains(img, ax, run);
  epoch_ticks(img, ax, 0, n);
  for (std::size_t j = 0; j < ndom; ++j) {
    std::vector<cv::Point> pts;
    if (j < run.init_acc.size()) pts.push_back(ax.map(0, run.init_acc[j]));
    for (int k = 0; k < n; ++k) {
      if (j < run.epochs[k].eval.size()) pts.push_back(ax.map(k + 1, run.epochs[k].eval[j].acc));
    }
    const cv::Scalar c = colour(j);
    if (pts.size() > 1) cv::polylines(img, pts, false, c, 2, cv::LINE_AA);
    for (const auto& p : pts) cv::circle(img, p, 3, c, cv::FILLED, cv::LINE_AA);
  }
  std::vector<LegendEntry> entries;
  for (std::size_t j = 0; j < ndom; ++j) entries.push_back({labels[j], colour(j)});
  draw_legend(img, entries, ax.area.x + ax.area.width + 20, ax.area.y, "domain");
  return encode(img);
}

std::vector<std::string> usage_layers(const io::RunRecord& run) {
  std::set<std::string> layers;
  for (const auto& e : run.epochs)
    for (const auto& [layer, counts] : e.expert_usage)
      if (!counts.empty()) layers.insert(layer);
  return {layers.begin(), layers.end()};
}

Png plot_expert_usage(const io::RunRecord& run, const std::string& layer, const std::string& title,
                      PlotSize size) {
  std::size_t experts = 0;
  for (const auto& e : run.epochs) {
    const auto it = e.expert_usage.find(layer);
    if (it != e.expert_usage.end()) experts = std::max(experts, it->second.size());
  }
  if (experts == 0) throw DataError("expert usage plot: layer '" + layer + "' has no usage");
  std::vector<std::string> labels;
  for (std::size_t x = 0; x < experts; ++x) labels.push_back("expert " + std::to_string(x));
  const int lw = legend_width(labels, "expert");
  cv::Mat img(size.height, size.width, CV_8UC3, kWhite);
  put_title(img, title);
  const int n = static_cast<int>(run.epochs.size());
  const Axes ax{{80, 60, size.width - 80 - lw - 30, size.height - 60 - 70}, 0.5, n + 0.5, 0.0, 1.0};
  draw_axes(img, ax, 0.1, 1, "epoch (across all domains)", "share of training rows routed");
  for (int k = 0; k < n; ++k) {
    const auto it = run.epochs[k].expert_usage.find(layer);
    if (it == run.epochs[k].expert_usage.end()) continue;
    double total = 0;
    for (int64_t v : it->second) total += static_cast<double>(v);
    if (total <= 0) continue;
    const int half = std::max(1, static_cast<int>(0.4 * ax.area.width / std::max(n, 1)));
    const int cx = ax.map(k + 1, 0).x;
    double acc = 0;
    for (std::size_t x = 0; x < it->second.size(); ++x) {
      const double share = static_cast<double>(it->second[x]) / total;
      const cv::Point lo = ax.map(k + 1, acc), hi = ax.map(k + 1, acc + share);
      cv::rectangle(img, cv::Point(cx - half, hi.y), cv::Point(cx + half, lo.y), colour(x),
                    cv::FILLED);
      acc += share;
    }
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  mark_domains(img, ax, run);
  epoch_ticks(img, ax, 1, n);
  std::vector<LegendEntry> entries;
  for (std::size_t x = 0; x < experts; ++x) entries.push_back({labels[x], colour(x)});
  draw_legend(img, entries, ax.area.x + ax.area.width + 20, ax.area.y, "expert");
  return encode(img);
}

Png plot_config_domain_acc(const std::vector<ConfigSummary>& configs, const std::string& title,
                           PlotSize size) {
  std::vector<const ConfigSummary*> shown;
  std::size_t ndom = 0;
  for (const auto& c : configs) {
    if (c.completed == 0) continue;
    shown.push_back(&c);
    ndom = std::max(ndom, c.final_domain_acc.size());
  }
  if (shown.empty() || ndom == 0) {
    throw DataError("config comparison plot: no config has a completed run");
  }
  std::vector<std::string> labels;
  for (const auto* c : shown) labels.push_back(c->name + " (n=" + std::to_string(c->completed) + ")");
  const int lw = legend_width(labels, "config");
  cv::Mat img(size.height, size.width, CV_8UC3, kWhite);
  put_title(img, title);
  const Axes ax{{80, 50, size.width - 80 - lw - 30, size.height - 50 - 70}, 0.0,
                static_cast<double>(ndom), 0.0, 1.0};
  draw_axes(img, ax, 0.1, 1, "domain (bars: mean, whiskers: +- sample std)", "final accuracy");
  const double group = 0.8, bar = group / static_cast<double>(shown.size());
  for (std::size_t j = 0; j < ndom; ++j) {
    std::string name = std::to_string(j);
    for (const auto* c : shown)
      if (j < c->domains.size()) {
        name = c->domains[j];
        break;
      }
    put(img, name, ax.map(j + 0.5, 0).x, ax.area.y + ax.area.height + 16, 0.45, kBlack,
        Align::Center);
    for (std::size_t i = 0; i < shown.size(); ++i) {
      if (j >= shown[i]->final_domain_acc.size() || !shown[i]->final_domain_acc[j]) continue;
      const PopulationStats& s = *shown[i]->final_domain_acc[j];
      const double x0 = j + 0.1 + i * bar, x1 = x0 + bar * 0.9;
      cv::rectangle(img, ax.map(x0, s.mean), ax.map(x1, 0.0), colour(i), cv::FILLED);
      if (s.std) {
        const int cx = ax.map((x0 + x1) / 2, 0).x, w = std::max(2, (ax.map(x1, 0).x - ax.map(x0, 0).x) / 4);
        const int ylo = ax.map(0, std::max(0.0, s.mean - *s.std)).y;
        const int yhi = ax.map(0, std::min(1.0, s.mean + *s.std)).y;
        cv::line(img, {cx, ylo}, {cx, yhi}, kBlack, 1, cv::LINE_AA);
        cv::line(img, {cx - w, ylo}, {cx + w, ylo}, kBlack, 1, cv::LINE_AA);
        cv::line(img, {cx - w, yhi}, {cx + w, yhi}, kBlack, 1, cv::LINE_AA);
      }
    }
  }
  cv::rectangle(img, ax.area, kBlack, 1);
  std::vector<LegendEntry> entries;
  for (std::size_t i = 0; i < shown.size(); ++i) entries.push_back({labels[i], colour(i)});
  draw_legend(img, entries, ax.area.x + ax.area.width + 20, ax.area.y, "config");
  return encode(img);
}

}  // namespace moedil::report
