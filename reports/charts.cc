#include "reports/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "reports/html.h"

namespace planner::reports {

namespace {

constexpr double kCharW = 6.7;  // average glyph width of 12px sans text, for layout estimates

std::string n1(double v) {  // coordinates: one decimal
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

double text_w(const std::string& s, double char_w = kCharW) { return static_cast<double>(s.size()) * char_w; }

// Tick labels: 0, 0.5, 12, 1.5k, 2M, 3G.
std::string tick_label(double v) {
  const double a = std::fabs(v);
  char b[32];
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e9) {
    std::snprintf(b, sizeof b, "%.2f", v / 1e9);
    return trim(b) + "G";
  }
  if (a >= 1e6) {
    std::snprintf(b, sizeof b, "%.2f", v / 1e6);
    return trim(b) + "M";
  }
  if (a >= 1e4) {
    std::snprintf(b, sizeof b, "%.2f", v / 1e3);
    return trim(b) + "k";
  }
  std::snprintf(b, sizeof b, "%.4f", v);
  return trim(b);
}

std::string svg_open(int w, int h, const std::string& title) {
  std::ostringstream os;
  // Scales down to the page width (never up): a wide matrix stays inside its section.
  os << "<svg width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h
     << "\" style=\"max-width:100%;height:auto\" role=\"img\" aria-label=\"" << html_escape(title) << "\">\n";
  os << "<text x=\"0\" y=\"15\" font-size=\"13\" font-weight=\"600\">" << html_escape(title) << "</text>\n";
  return os.str();
}

// Legend items laid out left to right from x0, wrapping at max_w; returns the rows used.
int legend(std::ostringstream& os, const std::vector<SeriesStyle>& items, double x0, double y0, double max_w) {
  double x = x0, y = y0;
  int rows = items.empty() ? 0 : 1;
  for (const auto& it : items) {
    const double w = 14 + 6 + text_w(it.name, 7.0) + 18;
    if (x + w > x0 + max_w && x > x0) {
      x = x0;
      y += 18;
      ++rows;
    }
    os << "<rect x=\"" << n1(x) << "\" y=\"" << n1(y - 10) << "\" width=\"14\" height=\"11\" rx=\"2\" fill=\""
       << it.color << "\"/>";
    os << "<text x=\"" << n1(x + 20) << "\" y=\"" << n1(y) << "\" font-size=\"12\">" << html_escape(it.name)
       << "</text>\n";
    x += w;
  }
  return rows;
}

int legend_rows(const std::vector<SeriesStyle>& items, double max_w) {
  std::ostringstream sink;
  return legend(sink, items, 0, 0, max_w);
}

std::string lerp_color(double t) {
  // A sequential blue ramp (ColorBrewer "Blues"), light = slow, dark = fast.
  static const int stops[5][3] = {{239, 243, 255}, {189, 215, 231}, {107, 174, 214}, {49, 130, 189}, {8, 81, 156}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(std::floor(t)));
  const double f = t - i;
  char b[16];
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = static_cast<int>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  std::snprintf(b, sizeof b, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return b;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  double span = hi - lo;
  if (span <= 0) span = hi != 0 ? std::fabs(hi) : 1.0;
  const double raw = span / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const double start = std::floor(lo / step + 1e-9) * step;
  double end = std::ceil(hi / step - 1e-9) * step;
  if (end <= start) end = start + step;
  std::vector<double> t;
  for (double v = start; v <= end + step * 1e-6; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

std::string hbar_chart_svg(const HBarChart& c) {
  const size_t ns = c.series.size();
  bool any_under = false;
  double label_w = 40, annot_w = 0, max_v = 0;
  for (const auto& b : c.bars) {
    label_w = std::max(label_w, text_w(b.label, 7.6) + 14);
    annot_w = std::max(annot_w, text_w(b.annotation, 6.3) + 14);
    double sum = 0;
    for (double v : b.values) {
      sum += std::max(v, 0.0);
      if (c.grouped) max_v = std::max(max_v, v);
    }
    if (!c.grouped) max_v = std::max(max_v, sum);
    if (b.under >= 0) {
      any_under = true;
      max_v = std::max(max_v, b.under);
    }
  }
  if (c.has_ref) max_v = std::max(max_v, c.ref_value);
  label_w = std::min(label_w, 470.0);
  annot_w = std::min(annot_w, 440.0);
  const double left = label_w, right = annot_w + 8;
  const double plot_w = std::max(200.0, c.width - left - right);
  std::vector<SeriesStyle> leg = c.series;
  if (any_under && !c.under_style.name.empty()) leg.push_back(c.under_style);
  const int lrows = legend_rows(leg, c.width - 10);
  const double top = 26 + lrows * 18 + (c.has_ref ? 16 : 4);
  const double bar_h = c.grouped ? 10 : 18;
  const double row_h = c.grouped ? ns * (bar_h + 2) + 10 : bar_h + (any_under ? 8 : 0) + 10;
  const double plot_h = row_h * c.bars.size();
  const int height = static_cast<int>(top + plot_h + 46);
  const auto ticks = nice_ticks(0, max_v > 0 ? max_v : 1);
  const double x_max = ticks.back();
  auto X = [&](double v) { return left + plot_w * std::clamp(v, 0.0, x_max) / x_max; };

  std::ostringstream os;
  os << svg_open(c.width, height, c.title);
  legend(os, leg, 0, 38, c.width - 10);
  // Grid and ticks.
  os << "<g class=\"tick\">";
  for (double t : ticks) {
    os << "<line class=\"grid\" x1=\"" << n1(X(t)) << "\" y1=\"" << n1(top) << "\" x2=\"" << n1(X(t)) << "\" y2=\""
       << n1(top + plot_h) << "\"/>";
    os << "<text x=\"" << n1(X(t)) << "\" y=\"" << n1(top + plot_h + 15) << "\" text-anchor=\"middle\">"
       << tick_label(t) << "</text>";
  }
  os << "</g>\n";
  os << "<line class=\"axis\" x1=\"" << n1(left) << "\" y1=\"" << n1(top + plot_h) << "\" x2=\"" << n1(left + plot_w)
     << "\" y2=\"" << n1(top + plot_h) << "\"/>\n";
  os << "<text x=\"" << n1(left + plot_w / 2) << "\" y=\"" << n1(top + plot_h + 36)
     << "\" text-anchor=\"middle\" font-size=\"12\">" << html_escape(c.axis_label) << "</text>\n";
  // Bars.
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const HBar& b = c.bars[i];
    const double y0 = top + i * row_h + 5;
    const double mid = c.grouped ? y0 + ns * (bar_h + 2) / 2 : y0 + bar_h / 2;
    os << "<g" << (b.muted ? " opacity=\"0.5\"" : "") << ">\n";
    os << "<text x=\"" << n1(left - 8) << "\" y=\"" << n1(mid + 4) << "\" text-anchor=\"end\" font-size=\"12\""
       << (b.highlight ? " font-weight=\"700\"" : "") << ">" << html_escape(b.label) << "</text>\n";
    double acc = 0;
    double end_x = left;
    for (size_t s = 0; s < ns && s < b.values.size(); ++s) {
      const double v = std::max(b.values[s], 0.0);
      double x, w, y;
      if (c.grouped) {
        x = left;
        w = X(v) - left;
        y = y0 + s * (bar_h + 2);
      } else {
        x = X(acc);
        w = X(acc + v) - x;
        y = y0;
        acc += v;
      }
      end_x = std::max(end_x, x + w);
      if (w <= 0 && !c.grouped) continue;
      const std::string tip = s < b.tips.size() && !b.tips[s].empty()
                                  ? b.tips[s]
                                  : b.label + " - " + c.series[s].name + ": " + tick_label(b.values[s]);
      os << "<rect x=\"" << n1(x) << "\" y=\"" << n1(y) << "\" width=\"" << n1(std::max(w, 0.0)) << "\" height=\""
         << n1(bar_h) << "\" fill=\"" << c.series[s].color << "\"><title>" << html_escape(tip) << "</title></rect>\n";
    }
    if (b.under >= 0) {
      const double y = y0 + bar_h + 2;
      os << "<rect x=\"" << n1(left) << "\" y=\"" << n1(y) << "\" width=\"" << n1(X(b.under) - left)
         << "\" height=\"5\" fill=\"" << c.under_style.color << "\"><title>" << html_escape(b.under_tip)
         << "</title></rect>\n";
    }
    if (!b.annotation.empty())
      os << "<text x=\"" << n1(std::max(end_x, left + plot_w) + 8) << "\" y=\"" << n1(mid + 4)
         << "\" font-size=\"12\" fill=\"#5b6472\">" << html_escape(b.annotation) << "</text>\n";
    os << "</g>\n";
  }
  if (c.has_ref) {
    const double x = X(c.ref_value);
    os << "<line x1=\"" << n1(x) << "\" y1=\"" << n1(top - 4) << "\" x2=\"" << n1(x) << "\" y2=\"" << n1(top + plot_h)
       << "\" stroke=\"#b42318\" stroke-width=\"2\" stroke-dasharray=\"6 3\"><title>" << html_escape(c.ref_label)
       << "</title></line>\n";
    const bool near_right = x > left + plot_w * 0.7;
    os << "<text x=\"" << n1(near_right ? x - 4 : x + 4) << "\" y=\"" << n1(top - 6) << "\" font-size=\"12\" fill=\"#b42318\""
       << (near_right ? " text-anchor=\"end\"" : "") << ">" << html_escape(c.ref_label) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

namespace {

struct Axis {
  AxisScale scale;
  double lo, hi;  // domain (log domains: positive)
  std::vector<double> ticks;
  double map(double v, double p0, double p1) const {
    double f;
    if (scale == AxisScale::linear) {
      f = (v - lo) / (hi - lo);
    } else {
      v = std::max(v, lo);
      f = (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo));
    }
    return p0 + f * (p1 - p0);
  }
};

Axis make_axis(AxisScale scale, double mn, double mx, bool from_zero) {
  Axis a{scale, 0, 1, {}};
  if (scale == AxisScale::linear) {
    a.ticks = nice_ticks(from_zero ? std::min(0.0, mn) : mn, mx);
    a.lo = a.ticks.front();
    a.hi = a.ticks.back();
    return a;
  }
  if (!(mn > 0)) mn = mx > 0 ? mx / 10 : 1;
  if (!(mx > 0)) mx = 1;
  if (scale == AxisScale::log2) {
    a.lo = std::pow(2.0, std::floor(std::log2(mn) + 1e-9));
    a.hi = std::pow(2.0, std::ceil(std::log2(mx) - 1e-9));
    if (a.hi <= a.lo) a.hi = a.lo * 2;
    std::vector<double> all;
    for (double v = a.lo; v <= a.hi * 1.0000001; v *= 2) all.push_back(v);
    const size_t stride = all.size() > 9 ? (all.size() + 8) / 9 : 1;
    for (size_t i = 0; i < all.size(); i += stride) a.ticks.push_back(all[i]);
    return a;
  }
  a.lo = std::pow(10.0, std::floor(std::log10(mn) + 1e-9));
  a.hi = std::pow(10.0, std::ceil(std::log10(mx) - 1e-9));
  if (a.hi <= a.lo) a.hi = a.lo * 10;
  const bool fine = std::log10(a.hi / a.lo) <= 3;
  for (double d = a.lo; d <= a.hi * 1.0000001; d *= 10) {
    a.ticks.push_back(d);
    if (fine && d * 10 <= a.hi * 1.0000001) {
      a.ticks.push_back(2 * d);
      a.ticks.push_back(5 * d);
    }
  }
  return a;
}

}  // namespace

std::string line_chart_svg(const LineChart& c) {
  double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
  for (const auto& s : c.series)
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      xmn = std::min(xmn, p.x);
      xmx = std::max(xmx, p.x);
      ymn = std::min(ymn, p.y);
      ymx = std::max(ymx, p.y);
    }
  for (const auto& h : c.hlines) {
    ymn = std::min(ymn, h.y);
    ymx = std::max(ymx, h.y);
  }
  if (!std::isfinite(xmn)) xmn = 0, xmx = 1;
  if (!std::isfinite(ymn)) ymn = 0, ymx = 1;
  Axis ax = make_axis(c.x_scale, xmn, xmx, false);
  if (c.integer_x && c.x_scale == AxisScale::linear && ax.ticks.size() > 1 && ax.ticks[1] - ax.ticks[0] < 1) {
    ax.ticks.clear();
    ax.lo = std::floor(xmn);
    ax.hi = std::max(std::ceil(xmx), ax.lo + 1);
    for (double v = ax.lo; v <= ax.hi; v += 1) ax.ticks.push_back(v);
  }
  const Axis ay = make_axis(c.y_scale, ymn, ymx, c.y_from_zero);
  std::vector<SeriesStyle> leg;
  for (const auto& s : c.series) leg.push_back({s.name, s.color});
  const bool show_legend = c.series.size() > 1;
  const int lrows = show_legend ? legend_rows(leg, c.width - 10) : 0;
  const double left = 62, right = 24, top = 30 + lrows * 18 + 8, bottom = 48;
  const double pw = c.width - left - right, ph = c.height - top - bottom;
  auto X = [&](double v) { return ax.map(v, left, left + pw); };
  auto Y = [&](double v) { return ay.map(v, top + ph, top); };

  std::ostringstream os;
  os << svg_open(c.width, c.height, c.title);
  if (show_legend) legend(os, leg, 0, 38, c.width - 10);
  os << "<g class=\"tick\">";
  for (double t : ay.ticks) {
    os << "<line class=\"grid\" x1=\"" << n1(left) << "\" y1=\"" << n1(Y(t)) << "\" x2=\"" << n1(left + pw)
       << "\" y2=\"" << n1(Y(t)) << "\"/>";
    os << "<text x=\"" << n1(left - 6) << "\" y=\"" << n1(Y(t) + 4) << "\" text-anchor=\"end\">" << tick_label(t)
       << "</text>";
  }
  for (double t : ax.ticks) {
    os << "<line class=\"grid\" x1=\"" << n1(X(t)) << "\" y1=\"" << n1(top) << "\" x2=\"" << n1(X(t)) << "\" y2=\""
       << n1(top + ph) << "\"/>";
    os << "<text x=\"" << n1(X(t)) << "\" y=\"" << n1(top + ph + 15) << "\" text-anchor=\"middle\">" << tick_label(t)
       << "</text>";
  }
  os << "</g>\n";
  os << "<path class=\"axis\" fill=\"none\" d=\"M" << n1(left) << " " << n1(top) << " V" << n1(top + ph) << " H"
     << n1(left + pw) << "\"/>\n";
  os << "<text x=\"" << n1(left + pw / 2) << "\" y=\"" << n1(c.height - 8) << "\" text-anchor=\"middle\" font-size=\"12\">"
     << html_escape(c.x_label) << "</text>\n";
  os << "<text transform=\"translate(14 " << n1(top + ph / 2) << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">"
     << html_escape(c.y_label) << "</text>\n";
  for (const auto& h : c.hlines) {
    os << "<line x1=\"" << n1(left) << "\" y1=\"" << n1(Y(h.y)) << "\" x2=\"" << n1(left + pw) << "\" y2=\""
       << n1(Y(h.y)) << "\" stroke=\"" << h.color << "\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"><title>"
       << html_escape(h.label) << "</title></line>";
    os << "<text x=\"" << n1(left + pw - 4) << "\" y=\"" << n1(Y(h.y) - 5) << "\" class=\"halo\" text-anchor=\"end\" font-size=\"11\" style=\"fill:"
       << h.color << "\">" << html_escape(h.label) << "</text>\n";  // style: the page's svg text rule beats fill=
  }
  for (const auto& s : c.series) {
    std::string d;
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      d += (d.empty() ? "M" : " L") + n1(X(p.x)) + " " + n1(Y(p.y));
    }
    if (!d.empty())
      os << "<path d=\"" << d << "\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n";
    for (const auto& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      const double px = X(p.x), py = Y(p.y);
      if (p.highlight) {
        os << "<circle cx=\"" << n1(px) << "\" cy=\"" << n1(py) << "\" r=\"8\" fill=\"none\" stroke=\"#1a7f37\" stroke-width=\"2.5\"/>";
        const bool near_right = px > left + pw * 0.75;
        // The label goes above the point unless a horizontal line's label (right-aligned above its
        // line) is there; then below it, then further below.
        const double lw = text_w(c.highlight_label, 7.4);
        const double lx0 = near_right ? px - 10 - lw : px + 10, lx1 = lx0 + lw;
        auto clashes = [&](double baseline) {
          for (const auto& h : c.hlines) {
            const double hx1 = left + pw - 4, hx0 = hx1 - text_w(h.label, 6.4), hb = Y(h.y) - 5;
            if (lx0 < hx1 && hx0 < lx1 && baseline - 12 < hb + 2 && hb - 11 < baseline + 2) return true;
          }
          return false;
        };
        double label_y = py - 10;
        for (double cand : {py - 10, py + 22, py + 36, py - 24})
          if (!clashes(cand)) {
            label_y = cand;
            break;
          }
        os << "<text x=\"" << n1(near_right ? px - 10 : px + 10) << "\" y=\"" << n1(label_y)
           << "\" class=\"halo\" font-size=\"12\" font-weight=\"700\" style=\"fill:#1a7f37\"" << (near_right ? " text-anchor=\"end\"" : "")
           << ">" << html_escape(c.highlight_label) << "</text>";
      }
      os << "<circle cx=\"" << n1(px) << "\" cy=\"" << n1(py) << "\" r=\"4\" fill=\"" << s.color
         << "\" stroke=\"#ffffff\" stroke-width=\"1\"><title>" << html_escape(p.tip) << "</title></circle>\n";
    }
  }
  os << "</svg>\n";
  return os.str();
}

std::string heat_map_svg(const HeatMap& h) {
  const size_t nr = h.row_labels.size(), nc = h.col_labels.size();
  double vmax = 0;
  for (const auto& row : h.values)
    for (double v : row)
      if (std::isfinite(v)) vmax = std::max(vmax, v);
  double label_w = 30;
  for (const auto& l : h.row_labels) label_w = std::max(label_w, text_w(l, 7.6) + 14);
  const double cell_w = std::clamp(720.0 / std::max<size_t>(nc, 1), 40.0, 84.0);
  // A cell's text ("NV12 150") that is wider than the cell goes on two lines (path, then number).
  bool two_lines = false;
  for (const auto& row : h.text)
    for (const auto& t : row) two_lines = two_lines || text_w(t, 6.2) > cell_w - 6;
  const double cell_h = two_lines ? std::max(34.0, cell_w * 0.8) : std::clamp(cell_w * 0.55, 24.0, 40.0);
  const double left = label_w, top = 50;
  const int width = static_cast<int>(std::max(left + nc * cell_w + 20, 460.0));
  const int height = static_cast<int>(top + nr * cell_h + 70);
  std::ostringstream os;
  os << svg_open(width, height, h.title);
  for (size_t c = 0; c < nc; ++c)
    os << "<text x=\"" << n1(left + (c + 0.5) * cell_w) << "\" y=\"" << n1(top - 8)
       << "\" text-anchor=\"middle\" font-size=\"12\">" << html_escape(h.col_labels[c]) << "</text>";
  os << "\n";
  for (size_t r = 0; r < nr; ++r) {
    os << "<text x=\"" << n1(left - 8) << "\" y=\"" << n1(top + (r + 0.5) * cell_h + 4)
       << "\" text-anchor=\"end\" font-size=\"12\">" << html_escape(h.row_labels[r]) << "</text>\n";
    for (size_t c = 0; c < nc; ++c) {
      const double v = r < h.values.size() && c < h.values[r].size() ? h.values[r][c] : NAN;
      const bool known = std::isfinite(v) && v > 0;
      const double t = known && vmax > 0 ? v / vmax : 0;
      const std::string fill = known ? lerp_color(0.15 + 0.85 * t) : "#eceff3";
      const std::string tip = r < h.tips.size() && c < h.tips[r].size() ? h.tips[r][c] : "";
      const std::string txt = r < h.text.size() && c < h.text[r].size() ? h.text[r][c] : "";
      const double x = left + c * cell_w, y = top + r * cell_h;
      os << "<g><rect x=\"" << n1(x) << "\" y=\"" << n1(y) << "\" width=\"" << n1(cell_w - 2) << "\" height=\""
         << n1(cell_h - 2) << "\" fill=\"" << fill << "\"><title>" << html_escape(tip) << "</title></rect>";
      if (!txt.empty()) {
        const size_t sp = txt.rfind(' ');
        const bool split = text_w(txt, 6.2) > cell_w - 6 && sp != std::string::npos;
        const std::vector<std::string> lines = split ? std::vector<std::string>{txt.substr(0, sp), txt.substr(sp + 1)}
                                                     : std::vector<std::string>{txt};
        const double x_mid = x + cell_w / 2 - 1, y0 = y + cell_h / 2 + 3 - 6.5 * (lines.size() - 1);
        os << "<text text-anchor=\"middle\" font-size=\"11\"" << (known && 0.15 + 0.85 * t > 0.6 ? " style=\"fill:#ffffff\"" : "")
           << " pointer-events=\"none\">";
        for (size_t k = 0; k < lines.size(); ++k)
          os << "<tspan x=\"" << n1(x_mid) << "\" y=\"" << n1(y0 + 13 * k) << "\">" << html_escape(lines[k]) << "</tspan>";
        os << "</text>";
      }
      os << "</g>\n";
    }
  }
  // Legend: five swatches from slow to fast, and the unknown colour.
  const double ly = top + nr * cell_h + 22;
  os << "<text x=\"0\" y=\"" << n1(ly + 10) << "\" font-size=\"12\">" << html_escape(h.unit) << ":</text>";
  double lx = text_w(h.unit) + 16;
  for (int i = 0; i < 5; ++i) {
    const double f0 = i / 5.0, f1 = (i + 1) / 5.0;
    const std::string label = tick_label(f0 * vmax) + "-" + tick_label(f1 * vmax);
    os << "<rect x=\"" << n1(lx) << "\" y=\"" << n1(ly) << "\" width=\"14\" height=\"12\" fill=\""
       << lerp_color(0.15 + 0.85 * (f0 + f1) / 2) << "\"/><text x=\"" << n1(lx + 18) << "\" y=\"" << n1(ly + 10)
       << "\" font-size=\"11\">" << html_escape(label) << "</text>";
    lx += 18 + text_w(label, 6.2) + 14;
  }
  os << "<rect x=\"" << n1(lx) << "\" y=\"" << n1(ly) << "\" width=\"14\" height=\"12\" fill=\"#eceff3\"/><text x=\""
     << n1(lx + 18) << "\" y=\"" << n1(ly + 10) << "\" font-size=\"11\">unknown / self</text>\n";
  os << "</svg>\n";
  return os.str();
}

}  // namespace planner::reports
