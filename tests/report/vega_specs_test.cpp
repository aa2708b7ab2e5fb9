#include "moedil/report/vega_specs.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"
#include "records.h"

namespace moedil::report {
namespace {

using nlohmann::json;
using testing::make_record;

// The data values of the spec's dataset `name`.
const json& values(const json& spec, const std::string& name) {
  for (const json& d : spec.at("data"))
    if (d.at("name") == name) return d.at("values");
  throw std::runtime_error("no dataset " + name);
}

bool has_mark(const json& spec, const std::string& type) {
  for (const json& m : spec.at("marks")) {
    if (m.at("type") == type) return true;
    if (m.contains("marks"))
      for (const json& inner : m.at("marks"))
        if (inner.at("type") == type) return true;
  }
  return false;
}

const json& signal(const json& spec, const std::string& name) {
  for (const json& s : spec.at("signals"))
    if (s.at("name") == name) return s;
  throw std::runtime_error("no signal " + name);
}

TEST(VegaSpecs, FileSafeName) {
  EXPECT_EQ(file_safe_name("blocks.1.moe"), "blocks.1.moe");
  EXPECT_EQ(file_safe_name("rot 90/x"), "rot_90_x");
  EXPECT_EQ(file_safe_name(""), "_");
  EXPECT_EQ(file_safe_name(".."), "_..");
}

TEST(VegaSpecs, TableValuesKeepNumbersAsNumbersAndNaAsNull) {
  const Table t{"t", {"name", "x", "n"}, {{Cell("a"), Cell::num(0.25), Cell::integer(3)},
                                          {Cell("-1"), Cell::num(std::nullopt), Cell::integer(0)}}};
  const json v = table_values(t);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0], json({{"name", "a"}, {"x", 0.25}, {"n", 3}}));
  EXPECT_EQ(v[1]["name"], "-1") << "text stays text";
  EXPECT_TRUE(v[1]["x"].is_null());
}

TEST(VegaSpecs, RMatrixRowsAreTheMatrixNumberedFromOne) {
  const io::RunRecord r = make_record("r1", "c");  // R = [[0.8, 0.5], [0.9, 0.7]]
  const VegaFigure f = r_matrix_figure(r, "runs/r1/");
  EXPECT_EQ(f.path, "runs/r1/r_matrix");
  ASSERT_EQ(f.pngs.size(), 1u);
  EXPECT_EQ(f.pngs[0].path, "runs/r1/r_matrix.png");
  ASSERT_EQ(f.data.rows.size(), 4u);
  const json v = values(f.spec, "r");
  EXPECT_EQ(v, table_values(f.data)) << "the spec plots the table written as CSV";
  EXPECT_EQ(v[1], json({{"trained_domain_index", 1}, {"trained_domain", "a"}, {"eval_domain_index", 2},
                        {"eval_domain", "b"}, {"acc", 0.5}}));
  EXPECT_EQ(v[2]["acc"], 0.9);
  EXPECT_EQ(f.spec.at("scales")[0].at("domain"), json({"a", "b"}));
  EXPECT_TRUE(has_mark(f.spec, "text")) << "values written in the cells at 2 domains";
  EXPECT_EQ(f.spec.at("$schema"), "https://vega.github.io/schema/vega/v5.json");
}

TEST(VegaSpecs, RMatrixAtFortyDomainsDropsCellTextAndThinsLabels) {
  io::RunRecord r = make_record("r1", "c");
  r.domains.clear();
  r.r_matrix.assign(40, std::vector<double>(40, 0.5));
  for (int i = 0; i < 40; ++i) r.domains.push_back("rot" + std::to_string(9 * i));
  const VegaFigure f = r_matrix_figure(r, "");
  EXPECT_EQ(f.data.rows.size(), 1600u);
  EXPECT_FALSE(has_mark(f.spec, "text"));
  EXPECT_EQ(f.spec.at("axes")[0].at("values").size(), 20u);  // every second of 40
  EXPECT_EQ(f.spec.at("axes")[0].at("values")[1], "rot18");
  EXPECT_LE(f.spec.at("width").get<double>(), 40 * 14.0 + 1e-9);
}

TEST(VegaSpecs, RMatrixRefusesEmptyAndRagged) {
  io::RunRecord r = make_record("r1", "c");
  r.r_matrix.clear();
  EXPECT_THROW(r_matrix_figure(r, ""), DataError);
  r.r_matrix = {{0.5, 0.5}, {0.5}};
  EXPECT_THROW(r_matrix_figure(r, ""), DataError);
}

TEST(VegaSpecs, RepeatedOrMissingDomainNamesGetDistinctLabels) {
  io::RunRecord r = make_record("r1", "c");
  r.domains = {"x", "x"};
  const VegaFigure f = r_matrix_figure(r, "");
  EXPECT_EQ(f.spec.at("scales")[0].at("domain"), json({"x", "x (2)"}));
  r.domains = {};
  EXPECT_EQ(r_matrix_figure(r, "").spec.at("scales")[0].at("domain"), json({"1", "2"}));
  r.domains = {"x (2)", "x"};
  r.r_matrix = {{0.1, 0.2, 0.3}};
  r.domains.push_back("x");
  EXPECT_EQ(r_matrix_figure(r, "").spec.at("scales")[0].at("domain"), json({"x (2)", "x", "x (3)"}));
}

TEST(VegaSpecs, AccuracyHasTheStartThenEveryEpochAndThePhases) {
  const io::RunRecord r = make_record("r1", "c");  // init [0.5, 0.4]; epochs on a then b
  const VegaFigure f = accuracy_figure(r, "runs/r1/");
  EXPECT_EQ(f.data.columns, (std::vector<std::string>{"step", "trained_domain", "epoch", "eval_domain", "acc"}));
  const json v = values(f.spec, "acc");
  ASSERT_EQ(v.size(), 6u);  // 2 domains x (start + 2 epochs)
  EXPECT_EQ(v[0], json({{"step", 0}, {"trained_domain", ""}, {"epoch", 0}, {"eval_domain", "a"}, {"acc", 0.5}}));
  EXPECT_EQ(v[2], json({{"step", 2}, {"trained_domain", "b"}, {"epoch", 1}, {"eval_domain", "a"}, {"acc", 0.9}}));
  EXPECT_EQ(v[4]["acc"], 0.5);  // b after training a
  const json p = values(f.spec, "phases");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], json({{"trained_domain", "a"}, {"first", 1}, {"last", 1}, {"k", 0}}));
  EXPECT_EQ(p[1], json({{"trained_domain", "b"}, {"first", 2}, {"last", 2}, {"k", 1}}));
  EXPECT_EQ(signal(f.spec, "highlight").at("bind").at("options"), json({"all", "a", "b"}));
  EXPECT_TRUE(has_mark(f.spec, "line"));
  io::RunRecord none = r;
  none.epochs.clear();
  EXPECT_THROW(accuracy_figure(none, ""), DataError);
}

TEST(VegaSpecs, PhasesJoinConsecutiveEpochsOfOneDomain) {
  io::RunRecord r = make_record("r1", "c");
  io::EpochRecord extra = r.epochs[1];
  extra.epoch = 1;
  r.epochs.push_back(extra);  // b trained for 2 epochs: steps 2 and 3
  const json p = values(accuracy_figure(r, "").spec, "phases");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1]["first"], 2);
  EXPECT_EQ(p[1]["last"], 3);
  EXPECT_EQ(values(accuracy_figure(r, "").spec, "acc")[3]["epoch"], 2) << "epochs from 1";
}

TEST(VegaSpecs, ConfusionIsTidyInTheCsvNestedInTheSpecAndAPngPerDomain) {
  const io::RunRecord r = make_record("r1", "c");  // final: a [[4,1],[0,5]], b [[3,2],[1,4]]
  const VegaFigure f = confusion_figure(r, "runs/r1/");
  ASSERT_EQ(f.data.rows.size(), 8u);
  const json v = table_values(f.data);
  EXPECT_EQ(v[0], json({{"eval_domain", "a"}, {"truth", 0}, {"prediction", 0}, {"count", 4}, {"fraction_of_truth", 0.8}}));
  EXPECT_EQ(v[6], json({{"eval_domain", "b"}, {"truth", 1}, {"prediction", 0}, {"count", 1}, {"fraction_of_truth", 0.2}}));
  const json m = values(f.spec, "matrices");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1]["rows"], json({{3, 2}, {1, 4}}));
  ASSERT_EQ(f.pngs.size(), 2u);
  EXPECT_EQ(f.pngs[1].path, "runs/r1/confusion_b.png");
  EXPECT_EQ(f.pngs[1].signals, json({{"domain", "b"}}));
  EXPECT_EQ(signal(f.spec, "domain").at("bind").at("options"), json({"a", "b"}));
  EXPECT_TRUE(has_mark(f.spec, "text"));
}

TEST(VegaSpecs, ConfusionAtHundredClasses) {
  io::RunRecord r = make_record("r1", "c");
  std::vector<std::vector<int64_t>> m(100, std::vector<int64_t>(100, 0));
  for (int i = 0; i < 100; ++i) m[i][i] = 3;
  m[7].assign(100, 0);  // a class without samples: fraction n/a
  for (auto& e : r.epochs.back().eval) e.confusion = m;
  const VegaFigure f = confusion_figure(r, "");
  EXPECT_EQ(f.data.rows.size(), 2u * 100 * 100);
  EXPECT_FALSE(has_mark(f.spec, "text")) << "no counts written in 100 x 100 cells";
  EXPECT_EQ(f.spec.at("axes")[0].at("values").size(), 20u);  // every 5th class
  EXPECT_GE(f.spec.at("width").get<double>(), 400.0);
  EXPECT_FALSE(f.data.rows[7 * 100].at(4).number.has_value());
  r.epochs.back().eval[0].confusion = {{1, 2}, {3}};
  EXPECT_THROW(confusion_figure(r, ""), DataError);
  for (auto& e : r.epochs.back().eval) e.confusion.clear();
  EXPECT_THROW(confusion_figure(r, ""), DataError);
}

TEST(VegaSpecs, UsageSharesPerEpochAndAPngPerLayer) {
  io::RunRecord r = make_record("r1", "c");  // blocks.1.moe: [30, 10] then [15, 25]
  r.epochs[1].expert_usage["blocks.3.moe"] = {0, 0, 8};
  const VegaFigure f = usage_figure(r, "runs/r1/");
  EXPECT_EQ(usage_layers(r), (std::vector<std::string>{"blocks.1.moe", "blocks.3.moe"}));
  const json v = table_values(f.data);
  ASSERT_EQ(v.size(), 2u * 2 + 3);
  EXPECT_EQ(v[0], json({{"layer", "blocks.1.moe"}, {"step", 1}, {"trained_domain", "a"}, {"epoch", 1},
                        {"expert", 0}, {"count", 30}, {"share", 0.75}}));
  EXPECT_EQ(v[3]["share"], 25.0 / 40.0);
  EXPECT_EQ(v[6]["share"], 1.0);
  ASSERT_EQ(f.pngs.size(), 2u);
  EXPECT_EQ(f.pngs[1].path, "runs/r1/usage_blocks.3.moe.png");
  EXPECT_EQ(f.pngs[1].signals, json({{"layer", "blocks.3.moe"}}));
  EXPECT_EQ(f.spec.at("scales")[2].at("domain"), json({0, 1, 2}));
  for (auto& e : r.epochs) e.expert_usage.clear();
  EXPECT_THROW(usage_figure(r, ""), DataError);
}

TEST(VegaSpecs, ConfigBarsAreMeanWithOneStdWhiskersClampedToZeroOne) {
  ConfigSummary a;
  a.name = "A";
  a.completed = 2;
  a.domains = {"a", "b"};
  a.final_domain_acc = {PopulationStats{2, 0.9, 0.2, 0.0, 1.0}, PopulationStats{2, 0.5, 0.1, 0.0, 1.0}};
  ConfigSummary b;
  b.name = "B";
  b.completed = 1;
  b.domains = {"a", "b"};
  b.final_domain_acc = {PopulationStats{1, 0.6, std::nullopt, std::nullopt, std::nullopt}, std::nullopt};
  ConfigSummary none;
  none.name = "C";
  none.not_completed = 1;
  const VegaFigure f = config_domain_acc_figure({a, b, none});
  const json v = table_values(f.data);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], json({{"config", "A (n=2)"}, {"n", 2}, {"domain_index", 1}, {"domain", "a"}, {"mean", 0.9},
                        {"std", 0.2}, {"lo", 0.9 - 0.2}, {"hi", 1.0}}));
  EXPECT_DOUBLE_EQ(v[1]["lo"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(v[1]["hi"].get<double>(), 0.6);
  EXPECT_TRUE(v[2]["std"].is_null());
  EXPECT_EQ(v[2]["lo"], 0.6);
  EXPECT_EQ(f.spec.at("scales")[2].at("domain"), json({"A (n=2)", "B (n=1)"})) << "C has no completed run";
  EXPECT_THROW(config_domain_acc_figure({none}), DataError);
}

TEST(VegaSpecs, ConfigBarsLabelEveryDomainWhenAConfigLacksOne) {
  ConfigSummary a;
  a.name = "A";
  a.completed = 1;
  a.domains = {"a", "b", "c"};
  a.final_domain_acc = {std::nullopt, PopulationStats{1, 0.5, std::nullopt, std::nullopt, std::nullopt},
                        PopulationStats{1, 0.25, std::nullopt, std::nullopt, std::nullopt}};
  const json v = table_values(config_domain_acc_figure({a}).data);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["domain"], "b");
  EXPECT_EQ(v[0]["domain_index"], 2);
  EXPECT_EQ(v[1]["domain"], "c");
}

TEST(VegaSpecs, ConfigBarsKeepEachConfigsDomainNames) {
  auto config = [](const std::string& name, std::vector<std::string> domains) {
    ConfigSummary c;
    c.name = name;
    c.completed = 1;
    c.domains = domains;
    for (std::size_t j = 0; j < domains.size(); ++j)
      c.final_domain_acc.push_back(PopulationStats{1, 0.1 * static_cast<double>(j + 1), std::nullopt, std::nullopt, std::nullopt});
    return c;
  };
  const VegaFigure f = config_domain_acc_figure({config("A", {"rot0", "rot90"}), config("B", {"rot0", "rot45", "rot90"})});
  const json v = table_values(f.data);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[3]["domain"], "rot45") << "B's second domain keeps its name";
  EXPECT_EQ(v[3]["domain_index"], 2);
  EXPECT_EQ(v[4]["domain"], "rot90");
  EXPECT_EQ(v[4]["domain_index"], 3);
  EXPECT_EQ(f.spec.at("scales")[0].at("domain"), json({1, 2, 3})) << "bars placed by index";
  EXPECT_EQ(signal(f.spec, "domain_names").at("value"),
            json({{"1", "rot0"}, {"2", "rot90 / rot45"}, {"3", "rot90"}}));
}

TEST(VegaSpecs, ConfusionPngNamesStayDistinct) {
  io::RunRecord r = make_record("r1", "c");
  r.domains = {"a b", "a_b"};
  r.epochs.back().eval[0].domain = "a b";
  r.epochs.back().eval[1].domain = "a_b";
  const VegaFigure f = confusion_figure(r, "");
  ASSERT_EQ(f.pngs.size(), 2u);
  EXPECT_EQ(f.pngs[0].path, "confusion_a_b.png");
  EXPECT_EQ(f.pngs[1].path, "confusion_a_b_2.png");
  r.domains = {"a b", "a_b", "a_b_2"};
  r.epochs.back().eval.push_back(r.epochs.back().eval[0]);
  const VegaFigure g = confusion_figure(r, "");
  ASSERT_EQ(g.pngs.size(), 3u);
  EXPECT_EQ(g.pngs[2].path, "confusion_a_b_2_2.png") << "a suffix never takes a real name";
  EXPECT_EQ(f.pngs[1].signals, json({{"domain", "a_b"}}));
}

TEST(VegaSpecs, GroupAccuracyIsTheMeanAndSampleStdOverRuns) {
  const io::RunRecord r1 = make_record("r1", "c", "completed", 0.0);
  const io::RunRecord r2 = make_record("r2", "c", "completed", 0.2);  // a after b: 0.9 vs 0.7
  io::RunRecord r3 = make_record("r3", "c", "completed", 0.1);
  const VegaFigure f = group_accuracy_figure("c", {&r1, &r2}, "groups/c/");
  EXPECT_EQ(f.path, "groups/c/accuracy");
  const json v = table_values(f.data);
  ASSERT_EQ(v.size(), 6u);
  // a after the second epoch: mean 0.8, std sqrt(((0.1)^2 + (0.1)^2) / 1) = 0.1414...
  EXPECT_EQ(v[2]["step"], 2);
  EXPECT_EQ(v[2]["n"], 2);
  EXPECT_NEAR(v[2]["mean"].get<double>(), 0.8, 1e-12);
  EXPECT_NEAR(v[2]["std"].get<double>(), std::sqrt(0.02), 1e-12);
  EXPECT_NEAR(v[2]["lo"].get<double>(), 0.8 - std::sqrt(0.02), 1e-12);
  EXPECT_NEAR(v[0]["std"].get<double>(), 0.0, 1e-12) << "same start in both runs";
  // Only the epochs every run has.
  r3.epochs.pop_back();
  const json w = table_values(group_accuracy_figure("c", {&r1, &r3}, "").data);
  EXPECT_EQ(w.size(), 4u);
  EXPECT_EQ(values(group_accuracy_figure("c", {&r1, &r3}, "").spec, "phases").size(), 1u);
  EXPECT_THROW(group_accuracy_figure("c", {}, ""), DataError);
}

}  // namespace
}  // namespace moedil::report
