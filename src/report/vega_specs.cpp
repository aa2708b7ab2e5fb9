#include "moedil/report/vega_specs.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "moedil/common/error.h"

namespace moedil::report {
namespace {

using nlohmann::json;

json base_spec(const std::string& title) {
  json s = json::parse(R"J({
    "$schema": "https://vega.github.io/schema/vega/v5.json",
    "background": "white",
    "padding": 8,
    "autosize": {"type": "pad"},
    "config": {
      "axis": {"labelFontSize": 11, "titleFontSize": 12},
      "legend": {"labelFontSize": 11, "titleFontSize": 12},
      "title": {"fontSize": 14, "anchor": "start", "offset": 12}
    }
  })J");
  s["title"] = {{"text", title}};
  return s;
}

// The label of the domain epoch `e` trained (its number from 1 past the labels).
std::string trained_label(const std::vector<std::string>& labels, const io::EpochRecord& e) {
  const auto d = static_cast<std::size_t>(std::max<int64_t>(e.domain, 0));
  return d < labels.size() ? labels[d] : std::to_string(d + 1);
}

// The run's domain names, one per index up to n: a missing or empty name is its number (from
// 1), and a repeated one gets " (k)" so that every label is distinct.
std::vector<std::string> domain_labels(const std::vector<std::string>& domains, std::size_t n) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string base = i < domains.size() && !domains[i].empty() ? domains[i] : std::to_string(i + 1);
    std::string name = base;
    for (int k = 2; !seen.insert(name).second; ++k) name = base + " (" + std::to_string(k) + ")";
    out.push_back(name);
  }
  return out;
}

std::size_t domain_count(const io::RunRecord& run) {
  std::size_t n = run.domains.size();
  for (const auto& row : run.r_matrix) n = std::max(n, row.size());
  for (const auto& e : run.epochs) {
    n = std::max(n, e.eval.size());
    n = std::max(n, static_cast<std::size_t>(std::max<int64_t>(e.domain + 1, 0)));
  }
  return std::max(n, run.init_acc.size());
}

// A colour scheme with enough distinct colours for n series (repeats beyond 20).
std::string category_scheme(std::size_t n) { return n <= 10 ? "tableau10" : "tableau20"; }

// The training phases of a run (consecutive epochs on one domain): their first and last step
// (step k = the run's k-th epoch, from 1), for the shaded bands of the epoch charts.
json phases(const std::vector<io::EpochRecord>& epochs, const std::vector<std::string>& labels) {
  json out = json::array();
  std::size_t start = 0;
  for (std::size_t k = 1; k <= epochs.size(); ++k) {
    if (k < epochs.size() && epochs[k].domain == epochs[start].domain) continue;
    out.push_back({{"trained_domain", trained_label(labels, epochs[start])},
                   {"first", start + 1},
                   {"last", k},
                   {"k", out.size()}});
    start = k;
  }
  return out;
}

// Shaded bands for the training phases, labelled above the plot when there are few enough.
json phase_marks(std::size_t count) {
  json marks = json::array();
  marks.push_back(json::parse(R"J({
    "type": "rect", "from": {"data": "phases"},
    "encode": {"enter": {
      "x": {"scale": "x", "signal": "datum.first - 0.5"},
      "x2": {"scale": "x", "signal": "datum.last + 0.5"},
      "y": {"value": 0}, "y2": {"signal": "height"},
      "fill": {"signal": "datum.k % 2 ? '#ececec' : '#f8f8f8'"},
      "tooltip": {"signal": "'trained on ' + datum.trained_domain"}
    }}
  })J"));
  if (count <= 12) {
    marks.push_back(json::parse(R"J({
      "type": "text", "from": {"data": "phases"},
      "encode": {"enter": {
        "x": {"scale": "x", "signal": "(datum.first + datum.last) / 2"},
        "y": {"value": -4},
        "align": {"value": "center"}, "baseline": {"value": "bottom"},
        "fontSize": {"value": 10}, "fill": {"value": "#555"},
        "limit": {"signal": "scale('x', datum.last + 0.5) - scale('x', datum.first - 0.5)"},
        "text": {"signal": "'train ' + datum.trained_domain"}
      }}
    })J"));
  }
  return marks;
}

json highlight_signal(const std::vector<std::string>& labels, const std::string& what) {
  json options = json::array({"all"});
  for (const auto& l : labels) options.push_back(l);
  return {{"name", "highlight"},
          {"value", "all"},
          {"bind", {{"input", "select"}, {"options", options}, {"name", what + " "}}}};
}

json menu_signal(const std::string& name, const std::vector<std::string>& options,
                 const std::string& label) {
  return {{"name", name},
          {"value", options.front()},
          {"bind", {{"input", "select"}, {"options", options}, {"name", label + " "}}}};
}

// Lines (and points with tooltips) of `field` per evaluated domain, dimmed unless highlighted;
// with `band`, an area from lo to hi under each line.
json series_marks(const std::string& data, const std::string& field, bool band,
                  const std::string& tooltip) {
  json group = json::parse(R"J({"type": "group", "marks": []})J");
  group["from"] = {{"facet", {{"name", "series"}, {"data", data}, {"groupby", "eval_domain"}}}};
  const std::string lit = "highlight === 'all' || highlight === datum.eval_domain";
  if (band) {
    json area = json::parse(R"J({
      "type": "area", "from": {"data": "series"}, "sort": {"field": "datum.step"},
      "encode": {"enter": {
        "x": {"scale": "x", "field": "step"},
        "y": {"scale": "y", "field": "lo"}, "y2": {"scale": "y", "field": "hi"},
        "fill": {"scale": "color", "field": "eval_domain"}
      }}
    })J");
    area["encode"]["update"]["fillOpacity"] = {{"signal", lit + " ? 0.18 : 0.03"}};
    group["marks"].push_back(area);
  }
  json line = json::parse(R"J({
    "type": "line", "from": {"data": "series"}, "sort": {"field": "datum.step"},
    "encode": {"enter": {
      "x": {"scale": "x", "field": "step"},
      "stroke": {"scale": "color", "field": "eval_domain"},
      "strokeWidth": {"value": 2}
    }}
  })J");
  line["encode"]["enter"]["y"] = {{"scale", "y"}, {"field", field}};
  line["encode"]["update"]["strokeOpacity"] = {{"signal", lit + " ? 1 : 0.1"}};
  json points = json::parse(R"J({
    "type": "symbol", "from": {"data": "series"},
    "encode": {"enter": {
      "x": {"scale": "x", "field": "step"},
      "fill": {"scale": "color", "field": "eval_domain"},
      "size": {"value": 22}
    }}
  })J");
  points["encode"]["enter"]["y"] = {{"scale", "y"}, {"field", field}};
  points["encode"]["enter"]["tooltip"] = {{"signal", tooltip}};
  points["encode"]["update"]["fillOpacity"] = {{"signal", lit + " ? 1 : 0.1"}};
  group["marks"].push_back(line);
  group["marks"].push_back(points);
  return group;
}

// Accuracy per evaluated domain (a line each, `field` of `values`; with `band` an area from lo
// to hi) across the run's epochs (x = step, 0 = before training), the training phases of
// `epochs` shaded, a menu that highlights one domain.
json curves_spec(const std::string& title, const std::vector<io::EpochRecord>& epochs,
                 const std::vector<std::string>& labels, const json& values, const std::string& y_title,
                 const std::string& field, bool band, const std::string& tooltip) {
  json s = base_spec(title);
  s["width"] = std::max(480.0, std::min(960.0, 24.0 * static_cast<double>(epochs.size())));
  s["height"] = 320;
  s["signals"] = json::array({highlight_signal(labels, "highlight domain")});
  const json bands = phases(epochs, labels);
  s["data"] = json::array({{{"name", "acc"}, {"values", values}}, {{"name", "phases"}, {"values", bands}}});
  s["scales"] = json::array(
      {{{"name", "x"}, {"type", "linear"}, {"domain", {-0.5, static_cast<double>(epochs.size()) + 0.5}},
        {"range", "width"}, {"zero", false}, {"nice", false}},
       json::parse(R"J({"name": "y", "type": "linear", "domain": [0, 1], "range": "height"})J"),
       {{"name", "color"}, {"type", "ordinal"}, {"domain", labels},
        {"range", {{"scheme", category_scheme(labels.size())}}}}});
  s["axes"] = json::parse(R"J([
    {"orient": "bottom", "scale": "x", "title": "epoch across all domains (0 = before training)",
     "tickMinStep": 1, "format": "d"},
    {"orient": "left", "scale": "y", "grid": true}])J");
  s["axes"][1]["title"] = y_title;
  s["legends"] = json::array({{{"stroke", "color"}, {"title", "evaluated domain"},
                               {"symbolType", "stroke"}, {"columns", labels.size() > 14 ? 2 : 1}}});
  json marks = phase_marks(bands.size());
  marks.push_back(series_marks("acc", field, band, tooltip));
  s["marks"] = marks;
  return s;
}

// What a heatmap writes in each cell: the text and its colour (Vega expressions of datum) and
// the font size.
struct CellText {
  std::string text;
  std::string fill;
  double font_size = 10;
};

// The cells of a heatmap on band scales "x" and "y" coloured by scale "color", each with a
// tooltip, and with `text` its value written in it. `set` is the encoding set: "enter" for data
// that never changes, "update" for data that a menu filters again.
json heatmap_marks(const std::string& data, const std::string& x, const std::string& y,
                   const std::string& colour, const std::string& tooltip, const std::string& set,
                   const std::optional<CellText>& text) {
  json cells = {{"type", "rect"},
                {"from", {{"data", data}}},
                {"encode",
                 {{set,
                   {{"x", {{"scale", "x"}, {"field", x}}},
                    {"width", {{"scale", "x"}, {"band", 1}}},
                    {"y", {{"scale", "y"}, {"field", y}}},
                    {"height", {{"scale", "y"}, {"band", 1}}},
                    {"fill", {{"scale", "color"}, {"field", colour}}},
                    {"tooltip", {{"signal", tooltip}}}}}}}};
  json marks = json::array({cells});
  if (text) {
    marks.push_back({{"type", "text"},
                     {"from", {{"data", data}}},
                     {"interactive", false},
                     {"encode",
                      {{set,
                        {{"x", {{"scale", "x"}, {"field", x}, {"band", 0.5}}},
                         {"y", {{"scale", "y"}, {"field", y}, {"band", 0.5}}},
                         {"align", {{"value", "center"}}},
                         {"baseline", {{"value", "middle"}}},
                         {"fontSize", {{"value", text->font_size}}},
                         {"text", {{"signal", text->text}}},
                         {"fill", {{"signal", text->fill}}}}}}}});
  }
  return marks;
}

// Tick values for a band axis: all up to 30, else every k-th so that about 20 labels show.
json thinned_ticks(const json& values) {
  if (values.size() <= 30) return values;
  const std::size_t k = (values.size() + 19) / 20;
  json v = json::array();
  for (std::size_t i = 0; i < values.size(); i += k) v.push_back(values[i]);
  return v;
}

}  // namespace

std::string file_safe_name(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '-' || ch == '_';
    out += ok ? ch : '_';
  }
  return out.empty() || out == "." || out == ".." ? "_" + out : out;
}

json table_values(const Table& t) {
  json values = json::array();
  for (const auto& row : t.rows) {
    json o = json::object();
    for (std::size_t c = 0; c < t.columns.size() && c < row.size(); ++c) {
      const Cell& cell = row[c];
      if (!cell.is_number) o[t.columns[c]] = cell.text;
      else if (cell.number && std::isfinite(*cell.number)) o[t.columns[c]] = *cell.number;
      else o[t.columns[c]] = nullptr;
    }
    values.push_back(std::move(o));
  }
  return values;
}

VegaFigure r_matrix_figure(const io::RunRecord& run, const std::string& dir) {
  const auto& r = run.r_matrix;
  if (r.empty() || r[0].empty()) throw DataError("R-matrix figure: the matrix is empty");
  const std::size_t cols = r[0].size();
  for (const auto& row : r) {
    if (row.size() != cols) throw DataError("R-matrix figure: rows of different lengths");
  }
  const std::vector<std::string> labels = domain_labels(run.domains, std::max(cols, r.size()));
  VegaFigure f;
  f.path = dir + "r_matrix";
  f.caption = "R-matrix: accuracy on domain j after training domain i";
  f.data = Table{"R-matrix",
                 {"trained_domain_index", "trained_domain", "eval_domain_index", "eval_domain", "acc"},
                 {}};
  for (std::size_t i = 0; i < r.size(); ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      f.data.rows.push_back({Cell::integer(static_cast<long long>(i + 1)), labels[i],
                             Cell::integer(static_cast<long long>(j + 1)), labels[j],
                             Cell::num(r[i][j])});
    }
  }
  const double n = static_cast<double>(std::max(cols, r.size()));
  const double cell = std::clamp(std::floor(560.0 / n), 14.0, 56.0);
  json s = base_spec("R-matrix " + run.run.id);
  s["width"] = cell * static_cast<double>(cols);
  s["height"] = cell * static_cast<double>(r.size());
  s["data"] = json::array({{{"name", "r"}, {"values", table_values(f.data)}}});
  json rows(std::vector<std::string>(labels.begin(), labels.begin() + static_cast<long>(r.size())));
  json columns(std::vector<std::string>(labels.begin(), labels.begin() + static_cast<long>(cols)));
  s["scales"] = json::array(
      {{{"name", "x"}, {"type", "band"}, {"domain", columns}, {"range", "width"}, {"paddingInner", 0.04}},
       {{"name", "y"}, {"type", "band"}, {"domain", rows}, {"range", "height"}, {"paddingInner", 0.04}},
       json::parse(R"J({"name": "color", "type": "linear", "domain": [0, 1],
                       "range": {"scheme": "viridis"}})J")});
  s["axes"] = json::parse(R"J([
    {"orient": "bottom", "scale": "x", "title": "evaluated domain j", "labelAngle": -40,
     "labelAlign": "right", "labelBaseline": "middle", "labelLimit": 120},
    {"orient": "left", "scale": "y", "title": "after training domain i", "labelLimit": 120}])J");
  s["axes"][0]["values"] = thinned_ticks(columns);
  s["axes"][1]["values"] = thinned_ticks(rows);
  s["legends"] = json::parse(R"J([{"fill": "color", "type": "gradient", "title": "accuracy"}])J");
  std::optional<CellText> text;
  if (n <= 25) text = CellText{"format(datum.acc, '.2f')", "datum.acc > 0.55 ? '#111' : '#fff'",
                               std::clamp(std::floor(cell * 0.3), 7.0, 12.0)};
  s["marks"] = heatmap_marks(
      "r", "eval_domain", "trained_domain", "acc",
      "{'after training': datum.trained_domain + ' (' + datum.trained_domain_index + ')', "
      "'evaluated': datum.eval_domain + ' (' + datum.eval_domain_index + ')', "
      "'accuracy': format(datum.acc, '.4f')}",
      "enter", text);
  f.spec = std::move(s);
  f.pngs.push_back({f.path + ".png"});
  return f;
}

VegaFigure accuracy_figure(const io::RunRecord& run, const std::string& dir) {
  if (run.epochs.empty()) throw DataError("accuracy figure: the run has no epoch");
  const std::vector<std::string> labels = domain_labels(run.domains, domain_count(run));
  VegaFigure f;
  f.path = dir + "accuracy";
  f.caption = "accuracy on every domain after every epoch (shaded: the domain being trained)";
  f.data = Table{"accuracy", {"step", "trained_domain", "epoch", "eval_domain", "acc"}, {}};
  for (std::size_t j = 0; j < labels.size(); ++j) {
    if (j < run.init_acc.size()) {
      f.data.rows.push_back({Cell::integer(0), "", Cell::integer(0), labels[j], Cell::num(run.init_acc[j])});
    }
    for (std::size_t k = 0; k < run.epochs.size(); ++k) {
      const io::EpochRecord& e = run.epochs[k];
      if (j >= e.eval.size()) continue;
      f.data.rows.push_back({Cell::integer(static_cast<long long>(k + 1)), trained_label(labels, e),
                             Cell::integer(static_cast<long long>(e.epoch + 1)), labels[j],
                             Cell::num(e.eval[j].acc)});
    }
  }
  if (f.data.rows.empty()) throw DataError("accuracy figure: no evaluation in any epoch");
  f.spec = curves_spec(
      "Accuracy per domain across epochs (" + run.run.id + ")", run.epochs, labels, table_values(f.data),
      "accuracy", "acc", false,
      "{'evaluated': datum.eval_domain, 'epoch across domains': datum.step, 'training': "
      "datum.step > 0 ? datum.trained_domain + ', epoch ' + datum.epoch : 'before training', "
      "'accuracy': format(datum.acc, '.4f')}");
  f.pngs.push_back({f.path + ".png"});
  return f;
}

VegaFigure confusion_figure(const io::RunRecord& run, const std::string& dir) {
  if (run.epochs.empty()) throw DataError("confusion figure: the run has no epoch");
  const auto& eval = run.epochs.back().eval;
  const std::vector<std::string> labels = domain_labels(run.domains, std::max(domain_count(run), eval.size()));
  VegaFigure f;
  f.path = dir + "confusion";
  f.caption = "final confusion matrix of each domain (colour: fraction of the true class)";
  f.data = Table{"confusion", {"eval_domain", "truth", "prediction", "count", "fraction_of_truth"}, {}};
  json matrices = json::array();
  std::vector<std::string> shown;
  std::set<std::string> files;
  std::size_t classes = 0;
  for (std::size_t j = 0; j < eval.size(); ++j) {
    const auto& m = eval[j].confusion;
    if (m.empty()) continue;
    bool square = true;
    for (const auto& row : m) square = square && row.size() == m.size();
    if (!square) throw DataError("confusion figure: the matrix of domain " + labels[j] + " is not square");
    classes = std::max(classes, m.size());
    shown.push_back(labels[j]);
    matrices.push_back({{"eval_domain", labels[j]}, {"rows", m}});
    for (std::size_t t = 0; t < m.size(); ++t) {
      int64_t total = 0;
      for (int64_t v : m[t]) total += v;
      for (std::size_t p = 0; p < m.size(); ++p) {
        f.data.rows.push_back({labels[j], Cell::integer(static_cast<long long>(t)),
                               Cell::integer(static_cast<long long>(p)),
                               Cell::integer(static_cast<long long>(m[t][p])),
                               Cell::num(total > 0 ? static_cast<double>(m[t][p]) / static_cast<double>(total)
                                                   : std::optional<double>{})});
      }
    }
    // Two labels may map to one file name ("a b", "a_b"): the later gets a number.
    const std::string base = "confusion_" + file_safe_name(labels[j]);
    std::string file = base;
    for (int k = 2; !files.insert(file).second; ++k) file = base + "_" + std::to_string(k);
    f.pngs.push_back({dir + file + ".png", {{"domain", labels[j]}}});
  }
  if (shown.empty()) throw DataError("confusion figure: no domain has a confusion matrix");
  const double cell = std::clamp(std::floor(560.0 / static_cast<double>(classes)), 4.0, 44.0);
  json s = base_spec("");
  s["title"] = {{"text", {{"signal", "'Final confusion matrix, domain ' + domain"}}}};
  s["width"] = cell * static_cast<double>(classes);
  s["height"] = cell * static_cast<double>(classes);
  s["signals"] = json::array({menu_signal("domain", shown, "domain")});
  // The matrices stay nested in the spec (a 100-class matrix is 10,000 cells per domain); the
  // transforms flatten the chosen one into cells.
  s["data"] = json::array({{{"name", "matrices"}, {"values", matrices}},
                           json::parse(R"J({"name": "cells", "source": "matrices", "transform": [
                             {"type": "filter", "expr": "datum.eval_domain === domain"},
                             {"type": "flatten", "fields": ["rows"], "as": ["row"], "index": "truth"},
                             {"type": "flatten", "fields": ["row"], "as": ["count"], "index": "prediction"},
                             {"type": "joinaggregate", "groupby": ["truth"], "fields": ["count"],
                              "ops": ["sum"], "as": ["total"]},
                             {"type": "formula", "as": "fraction",
                              "expr": "datum.total > 0 ? datum.count / datum.total : 0"}]})J")});
  json class_ids = json::array();
  for (std::size_t c = 0; c < classes; ++c) class_ids.push_back(c);
  const json ticks = thinned_ticks(class_ids);
  s["scales"] = json::parse(R"J([
    {"name": "x", "type": "band", "domain": {"data": "cells", "field": "prediction", "sort": true},
     "range": "width", "paddingInner": 0.02},
    {"name": "y", "type": "band", "domain": {"data": "cells", "field": "truth", "sort": true},
     "range": "height", "paddingInner": 0.02},
    {"name": "color", "type": "linear", "domain": [0, 1], "range": {"scheme": "blues"}}])J");
  s["axes"] = json::array({{{"orient", "bottom"}, {"scale", "x"}, {"title", "predicted class"}, {"values", ticks}},
                           {{"orient", "left"}, {"scale", "y"}, {"title", "true class"}, {"values", ticks}}});
  s["legends"] = json::parse(R"J([{"fill": "color", "type": "gradient", "title": "fraction of the true class"}])J");
  std::optional<CellText> text;
  if (classes <= 15) text = CellText{"datum.count", "datum.fraction > 0.5 ? '#fff' : '#111'",
                                     std::clamp(std::floor(cell * 0.3), 7.0, 12.0)};
  s["marks"] = heatmap_marks(
      "cells", "prediction", "truth", "fraction",
      "{'domain': domain, 'true class': datum.truth, 'predicted': datum.prediction, "
      "'count': datum.count, 'fraction of the true class': format(datum.fraction, '.3f')}",
      "update", text);
  f.spec = std::move(s);
  return f;
}

std::vector<std::string> usage_layers(const io::RunRecord& run) {
  std::set<std::string> layers;
  for (const auto& e : run.epochs)
    for (const auto& [layer, counts] : e.expert_usage)
      if (!counts.empty()) layers.insert(layer);
  return {layers.begin(), layers.end()};
}

VegaFigure usage_figure(const io::RunRecord& run, const std::string& dir) {
  const std::vector<std::string> layers = usage_layers(run);
  if (layers.empty()) throw DataError("expert usage figure: no layer has usage");
  const std::vector<std::string> labels = domain_labels(run.domains, domain_count(run));
  VegaFigure f;
  f.path = dir + "usage";
  f.caption = "expert usage in training: share of the epoch's rows routed to each expert";
  f.data = Table{"expert usage", {"layer", "step", "trained_domain", "epoch", "expert", "count", "share"}, {}};
  std::size_t experts = 0;
  for (const std::string& layer : layers) {
    for (std::size_t k = 0; k < run.epochs.size(); ++k) {
      const io::EpochRecord& e = run.epochs[k];
      const auto it = e.expert_usage.find(layer);
      if (it == e.expert_usage.end()) continue;
      int64_t total = 0;
      for (int64_t v : it->second) total += v;
      if (total <= 0) continue;
      experts = std::max(experts, it->second.size());
      for (std::size_t x = 0; x < it->second.size(); ++x) {
        f.data.rows.push_back({layer, Cell::integer(static_cast<long long>(k + 1)), trained_label(labels, e),
                               Cell::integer(static_cast<long long>(e.epoch + 1)),
                               Cell::integer(static_cast<long long>(x)),
                               Cell::integer(static_cast<long long>(it->second[x])),
                               Cell::num(static_cast<double>(it->second[x]) / static_cast<double>(total))});
      }
    }
    f.pngs.push_back({dir + "usage_" + file_safe_name(layer) + ".png", {{"layer", layer}}});
  }
  if (f.data.rows.empty()) throw DataError("expert usage figure: no epoch routed any row");
  std::vector<int> expert_ids(experts);
  for (std::size_t x = 0; x < experts; ++x) expert_ids[x] = static_cast<int>(x);
  json s = base_spec("");
  s["title"] = {{"text", {{"signal", "'Expert usage per epoch, layer ' + layer"}}}};
  s["width"] = std::max(480.0, std::min(960.0, 24.0 * static_cast<double>(run.epochs.size())));
  s["height"] = 300;
  s["signals"] = json::array({menu_signal("layer", layers, "layer")});
  const json bands = phases(run.epochs, labels);
  s["data"] = json::array({{{"name", "usage"}, {"values", table_values(f.data)}},
                           json::parse(R"J({"name": "shown", "source": "usage", "transform": [
                             {"type": "filter", "expr": "datum.layer === layer"},
                             {"type": "stack", "groupby": ["step"], "field": "share",
                              "sort": {"field": "expert"}}]})J"),
                           {{"name", "phases"}, {"values", bands}}});
  s["scales"] = json::array(
      {{{"name", "x"}, {"type", "linear"}, {"domain", {0.5, static_cast<double>(run.epochs.size()) + 0.5}},
        {"range", "width"}, {"zero", false}, {"nice", false}},
       json::parse(R"J({"name": "y", "type": "linear", "domain": [0, 1], "range": "height"})J"),
       {{"name", "color"}, {"type", "ordinal"}, {"domain", expert_ids},
        {"range", {{"scheme", category_scheme(experts)}}}}});
  s["axes"] = json::parse(R"J([
    {"orient": "bottom", "scale": "x", "title": "epoch across all domains", "tickMinStep": 1, "format": "d"},
    {"orient": "left", "scale": "y", "title": "share of training rows routed", "grid": true}])J");
  s["legends"] = json::array({{{"fill", "color"}, {"title", "expert"}, {"columns", experts > 14 ? 2 : 1}}});
  json marks = phase_marks(bands.size());
  marks.push_back(json::parse(R"J({
    "type": "rect", "from": {"data": "shown"},
    "encode": {"update": {
      "x": {"scale": "x", "signal": "datum.step - 0.38"}, "x2": {"scale": "x", "signal": "datum.step + 0.38"},
      "y": {"scale": "y", "field": "y0"}, "y2": {"scale": "y", "field": "y1"},
      "fill": {"scale": "color", "field": "expert"},
      "tooltip": {"signal": "{'layer': datum.layer, 'epoch across domains': datum.step, 'training': datum.trained_domain + ', epoch ' + datum.epoch, 'expert': datum.expert, 'rows': datum.count, 'share': format(datum.share, '.3f')}"}
    }}
  })J"));
  s["marks"] = marks;
  f.spec = std::move(s);
  return f;
}

VegaFigure config_domain_acc_figure(const std::vector<ConfigSummary>& configs) {
  VegaFigure f;
  f.path = "final_acc_by_config";
  f.caption = "final accuracy per domain by config: mean over completed runs, whiskers +- one sample std";
  f.data = Table{"final accuracy by config",
                 {"config", "n", "domain_index", "domain", "mean", "std", "lo", "hi"}, {}};
  // Bars are placed by domain index; each row keeps its own config's domain name, and the axis
  // shows every name the configs give an index ("rot45 / rot90" when they differ).
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> axis_names;
  for (const auto& c : configs) {
    if (c.completed == 0) continue;
    const std::string name = c.name + " (n=" + std::to_string(c.completed) + ")";
    const std::vector<std::string> labels = domain_labels(c.domains, c.final_domain_acc.size());
    bool any = false;
    for (std::size_t j = 0; j < c.final_domain_acc.size(); ++j) {
      if (!c.final_domain_acc[j]) continue;
      const PopulationStats& st = *c.final_domain_acc[j];
      const double lo = st.std ? std::max(0.0, st.mean - *st.std) : st.mean;
      const double hi = st.std ? std::min(1.0, st.mean + *st.std) : st.mean;
      f.data.rows.push_back({name, Cell::integer(st.n), Cell::integer(static_cast<long long>(j + 1)), labels[j],
                             Cell::num(st.mean), Cell::num(st.std), Cell::num(lo), Cell::num(hi)});
      if (axis_names.size() <= j) axis_names.resize(j + 1);
      if (std::find(axis_names[j].begin(), axis_names[j].end(), labels[j]) == axis_names[j].end())
        axis_names[j].push_back(labels[j]);
      any = true;
    }
    if (any) names.push_back(name);
  }
  if (f.data.rows.empty()) throw DataError("config comparison figure: no config has a completed run");
  json indices = json::array(), axis = json::object();
  for (std::size_t j = 0; j < axis_names.size(); ++j) {
    if (axis_names[j].empty()) continue;
    indices.push_back(j + 1);
    std::string label;
    for (const std::string& n : axis_names[j]) label += (label.empty() ? "" : " / ") + n;
    axis[std::to_string(j + 1)] = label;
  }
  const double group = std::max(44.0, 16.0 * static_cast<double>(names.size()) + 12.0);
  json s = base_spec("Final accuracy per domain: mean +- std over completed runs");
  s["width"] = std::max(360.0, group * static_cast<double>(indices.size()));
  s["height"] = 300;
  s["signals"] = json::array({{{"name", "domain_names"}, {"value", axis}}});
  s["data"] = json::array({{{"name", "acc"}, {"values", table_values(f.data)}}});
  s["scales"] = json::array(
      {{{"name", "x"}, {"type", "band"}, {"domain", indices}, {"range", "width"}, {"paddingInner", 0.2}},
       json::parse(R"J({"name": "y", "type": "linear", "domain": [0, 1], "range": "height"})J"),
       {{"name", "color"}, {"type", "ordinal"}, {"domain", names},
        {"range", {{"scheme", category_scheme(names.size())}}}}});
  s["axes"] = json::parse(R"J([
    {"orient": "bottom", "scale": "x", "title": "domain", "labelAngle": -30, "labelAlign": "right",
     "labelLimit": 160,
     "encode": {"labels": {"update": {"text": {"signal": "domain_names[datum.value]"}}}}},
    {"orient": "left", "scale": "y", "title": "final accuracy", "grid": true}])J");
  s["legends"] = json::parse(R"J([{"fill": "color", "title": "config", "labelLimit": 360}])J");
  json g = json::parse(R"J({
    "type": "group",
    "from": {"facet": {"data": "acc", "name": "bars", "groupby": "domain_index"}},
    "encode": {"enter": {"x": {"scale": "x", "field": "domain_index"}}},
    "signals": [{"name": "width", "update": "bandwidth('x')"}],
    "marks": [
      {"type": "rect", "from": {"data": "bars"},
       "encode": {"enter": {
         "x": {"scale": "pos", "field": "config"}, "width": {"scale": "pos", "band": 1},
         "y": {"scale": "y", "field": "mean"}, "y2": {"scale": "y", "value": 0},
         "fill": {"scale": "color", "field": "config"},
         "tooltip": {"signal": "{'config': datum.config, 'domain': datum.domain + ' (' + datum.domain_index + ')', 'mean': format(datum.mean, '.4f'), 'std': datum.std == null ? 'n/a (n = 1)' : format(datum.std, '.4f'), 'runs': datum.n}"}
       }}},
      {"type": "rule", "from": {"data": "bars"}, "interactive": false,
       "encode": {"enter": {
         "x": {"scale": "pos", "field": "config", "band": 0.5},
         "y": {"scale": "y", "field": "lo"}, "y2": {"scale": "y", "field": "hi"},
         "stroke": {"value": "#222"}, "strokeWidth": {"value": 1.5},
         "strokeOpacity": {"signal": "datum.std == null ? 0 : 1"}
       }}}
    ]
  })J");
  g["scales"] = json::array({{{"name", "pos"}, {"type", "band"}, {"domain", names}, {"range", "width"},
                              {"paddingInner", 0.1}}});
  s["marks"] = json::array({g});
  f.spec = std::move(s);
  f.pngs.push_back({f.path + ".png"});
  return f;
}

VegaFigure group_accuracy_figure(const std::string& group, const std::vector<const io::RunRecord*>& runs,
                                 const std::string& dir) {
  if (runs.empty()) throw DataError("group accuracy figure: no run");
  std::size_t steps = runs.front()->epochs.size();
  for (const auto* r : runs) steps = std::min(steps, r->epochs.size());
  if (steps == 0) throw DataError("group accuracy figure: the runs have no epoch in common");
  const io::RunRecord& first = *runs.front();
  const std::vector<std::string> labels = domain_labels(first.domains, domain_count(first));
  const std::vector<io::EpochRecord> epochs(first.epochs.begin(), first.epochs.begin() + static_cast<long>(steps));
  VegaFigure f;
  f.path = dir + "accuracy";
  f.caption = "accuracy on every domain after every epoch: mean over the " + std::to_string(runs.size()) +
              " completed runs (seeds), band +- one sample std";
  f.data = Table{"accuracy over seeds",
                 {"step", "trained_domain", "epoch", "eval_domain", "n", "mean", "std", "lo", "hi"}, {}};
  for (std::size_t j = 0; j < labels.size(); ++j) {
    for (std::size_t k = 0; k <= steps; ++k) {
      std::vector<double> v;
      for (const auto* r : runs) {
        // Non-finite accuracies (a diverged run) are left out, as in the tables' statistics.
        if (k == 0 && j < r->init_acc.size() && std::isfinite(r->init_acc[j])) v.push_back(r->init_acc[j]);
        if (k > 0 && j < r->epochs[k - 1].eval.size() && std::isfinite(r->epochs[k - 1].eval[j].acc))
          v.push_back(r->epochs[k - 1].eval[j].acc);
      }
      if (v.empty()) continue;
      double mean = 0;
      for (double x : v) mean += x;
      mean /= static_cast<double>(v.size());
      std::optional<double> sd;
      if (v.size() >= 2) {
        double ss = 0;
        for (double x : v) ss += (x - mean) * (x - mean);
        sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
      }
      const double lo = sd ? std::max(0.0, mean - *sd) : mean, hi = sd ? std::min(1.0, mean + *sd) : mean;
      std::string trained;
      long long epoch = 0;
      if (k > 0) {
        trained = trained_label(labels, epochs[k - 1]);
        epoch = epochs[k - 1].epoch + 1;
      }
      f.data.rows.push_back({Cell::integer(static_cast<long long>(k)), trained, Cell::integer(epoch), labels[j],
                             Cell::integer(static_cast<long long>(v.size())), Cell::num(mean), Cell::num(sd),
                             Cell::num(lo), Cell::num(hi)});
    }
  }
  f.spec = curves_spec(
      "Accuracy per domain across epochs, " + group + ": mean +- std over " + std::to_string(runs.size()) +
          " runs",
      epochs, labels, table_values(f.data), "accuracy (mean over runs)", "mean", true,
      "{'evaluated': datum.eval_domain, 'epoch across domains': datum.step, 'training': "
      "datum.step > 0 ? datum.trained_domain + ', epoch ' + datum.epoch : 'before training', "
      "'mean accuracy': format(datum.mean, '.4f'), 'std': datum.std == null ? 'n/a' : "
      "format(datum.std, '.4f'), 'runs': datum.n}");
  f.pngs.push_back({f.path + ".png"});
  return f;
}

}  // namespace moedil::report
