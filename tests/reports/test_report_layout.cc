// Layout of the charts where labels used to collide or spill: the recommended point's label and a
// horizontal line's label, a 16-GPU bandwidth matrix, unknown bandwidths.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

#include "reports/charts.h"
#include "reports/report.h"

namespace planner::reports {
namespace {

// The y of the <text> that draws `label` (first match).
double text_y(const std::string& svg, const std::string& label) {
  std::smatch m;
  const std::regex re("<text x=\"[-0-9.]+\" y=\"([-0-9.]+)\"[^>]*>" + label + "</text>");
  return std::regex_search(svg, m, re) ? std::stod(m[1]) : NAN;
}

TEST(LineChartLayout, RecommendedLabelMovesOffTheDeadlineLabel) {
  // Two points; the recommended one sits on the deadline line at the right edge, where the line's
  // label is drawn (right-aligned, 5 px above the line). Above the point would overlap it.
  LineChart c;
  c.title = "days";
  c.series = {{"days", "#c55a11", {{1, 20, "a", false}, {10, 10, "b", true}}}};
  c.hlines = {{10, "deadline 10 days"}};
  c.highlight_label = "recommended";
  const std::string svg = line_chart_svg(c);
  const double line_label = text_y(svg, "deadline 10 days"), rec = text_y(svg, "recommended");
  ASSERT_FALSE(std::isnan(line_label)) << svg;
  ASSERT_FALSE(std::isnan(rec)) << svg;
  // Text 11-12 px tall: baselines at least 14 px apart do not overlap.
  EXPECT_GE(std::fabs(rec - line_label), 14.0) << "recommended at y=" << rec << ", deadline label at y=" << line_label;
  // Far from the line, the label stays above its point as before.
  c.hlines = {{19, "deadline 19 days"}};
  c.series[0].points[1].y = 2;
  const std::string svg2 = line_chart_svg(c);
  EXPECT_LT(text_y(svg2, "recommended"), text_y(svg2, "deadline 19 days") + 1000);  // drawn
}

TEST(HeatMapLayout, SixteenGpusKeepTextInsideCells) {
  HeatMap h;
  h.title = "bw";
  h.unit = "GB/s";
  for (int i = 0; i < 16; ++i) {
    h.row_labels.push_back("GPU" + std::to_string(i));
    h.col_labels.push_back("GPU" + std::to_string(i));
    h.values.emplace_back(16, 120.0);
    h.text.emplace_back(16, "NVS 120");
    h.tips.emplace_back(16, "tip");
  }
  const std::string svg = heat_map_svg(h);
  // 720 / 16 = 45 px cells; "NVS 120" is 7 x 6.2 = 43 px > 45 - 6: two lines, path then number.
  EXPECT_NE(svg.find(">NVS</tspan>"), std::string::npos) << svg.substr(0, 2000);
  EXPECT_NE(svg.find(">120</tspan>"), std::string::npos);
  // The SVG scales down to the page instead of overflowing it.
  EXPECT_NE(svg.find("style=\"max-width:100%;height:auto\""), std::string::npos);
}

TEST(TopologyReport, UnknownBandwidthIsNotZero) {
  const Json doc = Json::parse(R"({"format": "planner-topology/1", "source": "test",
    "inter_socket": {"bw_GBps": 0, "why": "no SLIT"},
    "matrix": {"gpus": [0, 1], "bw_GBps": [[0, 0], [25, 0]], "type": [["X", "SYS"], ["SYS", "X"]]},
    "rings": [{"group_size": 2, "bw_GBps": 0, "bottleneck": "SYS", "why": "unknown link"}]})");
  const std::string html = render_html_report(doc, "t.json");
  EXPECT_NE(html.find("unknown (no SLIT)"), std::string::npos);
  EXPECT_EQ(html.find("0 GB/s"), std::string::npos) << "an unknown bandwidth drawn as 0";
  const std::string csv = render_csv_report(doc, "t.json");
  // GPU0 -> GPU1 unknown: empty, not 0; GPU1 -> GPU0 25 GB/s.
  EXPECT_NE(csv.find("0,1,SYS,\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("1,0,SYS,25\r\n"), std::string::npos) << csv;
}

}  // namespace
}  // namespace planner::reports
