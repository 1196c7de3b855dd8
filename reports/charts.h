// Inline SVG charts for the HTML reports: horizontal bars (stacked or grouped), line charts
// (linear or log2/log10 axes) and heat maps. Deterministic text (same input, same bytes), no
// script: tooltips are SVG <title> elements, which every browser shows on hover.
// Values come in display units (GiB, s, GB/s); tooltips and annotations come formatted.
#pragma once
#include <string>
#include <vector>

namespace planner::reports {

struct SeriesStyle {
  std::string name;
  std::string color;  // "#rrggbb"
};

struct HBar {
  std::string label;               // left of the bar
  std::vector<double> values;      // one per series (stacked, or side by side when grouped)
  std::vector<std::string> tips;   // one per series; empty: "label - series: value"
  std::string annotation;          // right of the bar
  bool muted = false;              // drawn translucent (e.g. does not fit)
  bool highlight = false;          // bold label (e.g. the best)
  double under = -1;               // optional thin bar under the main one (< 0: none)
  std::string under_tip;
};

struct HBarChart {
  std::string title;          // accessible name, and drawn above the plot
  std::string axis_label;     // "memory per GPU (GiB)"
  std::vector<SeriesStyle> series;
  std::vector<HBar> bars;
  bool grouped = false;       // series side by side instead of stacked
  bool has_ref = false;       // a vertical reference line (device capacity)
  double ref_value = 0;
  std::string ref_label;
  SeriesStyle under_style;    // legend entry of the thin under-bars (name empty: none)
  int width = 1100;
};
std::string hbar_chart_svg(const HBarChart& c);

struct LinePoint {
  double x = 0, y = 0;
  std::string tip;
  bool highlight = false;  // ringed, labelled with LineChart::highlight_label
};
struct LineSeries {
  std::string name;
  std::string color;
  std::vector<LinePoint> points;
};
struct HLine {
  double y = 0;
  std::string label;
  std::string color = "#b42318";
};
enum class AxisScale { linear, log2, log10 };
struct LineChart {
  std::string title;
  std::string x_label, y_label;  // with units
  AxisScale x_scale = AxisScale::linear;
  AxisScale y_scale = AxisScale::linear;
  std::vector<LineSeries> series;
  std::vector<HLine> hlines;
  std::string highlight_label;   // "recommended"
  bool y_from_zero = true;       // linear y axis starts at 0 (false: at the data's minimum)
  bool integer_x = false;        // x ticks on whole numbers only (steps)
  int width = 600, height = 320;
};
std::string line_chart_svg(const LineChart& c);

struct HeatMap {
  std::string title;
  std::vector<std::string> row_labels, col_labels;
  std::vector<std::vector<double>> values;       // <= 0 or NaN: unknown (grey)
  std::vector<std::vector<std::string>> text;    // drawn in the cell (short)
  std::vector<std::vector<std::string>> tips;    // hover text
  std::string unit;                              // legend: "GB/s per direction"
};
std::string heat_map_svg(const HeatMap& h);

// "Nice" axis ticks from 0 (or lo) to at least hi: steps of 1, 2 or 5 x 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace planner::reports
