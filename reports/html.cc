#include "reports/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/units.h"

namespace planner::reports {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

static std::string printf_str(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string fmt_sig(double v, int sig) {
  if (v == 0) return "0";
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  char b[64];
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e7 || a < 1e-3)) {
    std::snprintf(b, sizeof b, "%.*e", std::max(sig - 1, 0), v);
    return b;
  }
  // Enough decimals for `sig` significant digits, never scientific in the usual range.
  int digits_before = a >= 1 ? static_cast<int>(std::floor(std::log10(a))) + 1 : 0;
  int decimals = std::max(0, sig - std::max(digits_before, 1));
  if (a < 1 && a > 0) decimals = std::max(decimals, static_cast<int>(-std::floor(std::log10(a))) + sig - 1);
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  std::string out = b;
  if (out.find('.') != std::string::npos) {  // 4.0000 -> 4, 26.40 -> 26.4
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  return out;
}

std::string fmt_fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string fmt_pct(double fraction, int decimals) { return fmt_fixed(100.0 * fraction, decimals) + "%"; }

std::string fmt_gib(double bytes) { return printf_str("%.2f GiB", bytes_to_gib(bytes)); }

std::string fmt_s(double s) {
  const double a = std::fabs(s);
  if (a >= 1.0) return printf_str("%.3f s", s);
  if (a >= 1e-3) return printf_str("%.2f ms", s * 1e3);
  return printf_str("%.1f us", s * 1e6);
}

std::string fmt_count(double v) {
  if (!std::isfinite(v)) return fmt_sig(v);
  char b[64];
  std::snprintf(b, sizeof b, "%.0f", std::fabs(v));
  std::string digits = b, out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 && out != "0" ? "-" : "") + out;
}

std::string fmt_si(double v) {
  const double a = std::fabs(v);
  const char* suffix = "";
  double d = 1;
  if (a >= 1e12) suffix = "T", d = 1e12;
  else if (a >= 1e9) suffix = "B", d = 1e9;
  else if (a >= 1e6) suffix = "M", d = 1e6;
  else if (a >= 1e3) suffix = "k", d = 1e3;
  return fmt_sig(v / d, 3) + suffix;
}

std::string fmt_bytes_auto(double bytes) {
  const double a = std::fabs(bytes);
  if (a >= kGiB) return printf_str("%.2f GiB", bytes / kGiB);
  if (a >= 1024.0 * 1024.0) return printf_str("%.2f MiB", bytes / (1024.0 * 1024.0));
  if (a >= 1024.0) return printf_str("%.2f KiB", bytes / 1024.0);
  return printf_str("%.0f B", bytes);
}

std::string render_table(const HtmlTable& t) {
  std::ostringstream os;
  os << "<div class=\"tablewrap\"><table>";
  if (!t.caption.empty()) os << "<caption>" << html_escape(t.caption) << "</caption>";
  auto is_num = [&](size_t c) { return std::find(t.numeric_cols.begin(), t.numeric_cols.end(), c) != t.numeric_cols.end(); };
  os << "<thead><tr>";
  for (size_t c = 0; c < t.headers.size(); ++c)
    os << "<th" << (is_num(c) ? " class=\"num\"" : "") << ">" << html_escape(t.headers[c]) << "</th>";
  os << "</tr></thead><tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string cls = r < t.row_classes.size() ? t.row_classes[r] : "";
    os << "<tr" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">";
    for (size_t c = 0; c < t.rows[r].size(); ++c)
      os << "<td" << (is_num(c) ? " class=\"num\"" : "") << ">" << t.rows[r][c] << "</td>";
    os << "</tr>\n";
  }
  os << "</tbody></table></div>\n";
  return os.str();
}

std::string render_facts(const std::vector<std::pair<std::string, std::string>>& facts) {
  std::ostringstream os;
  os << "<dl class=\"facts\">";
  for (const auto& f : facts) os << "<dt>" << html_escape(f.first) << "</dt><dd>" << f.second << "</dd>";
  os << "</dl>\n";
  return os.str();
}

static const char* kStyle = R"CSS(
:root { --fg:#1d2430; --muted:#5b6472; --line:#d9dee5; --bg:#ffffff; --panel:#f6f8fa; --accent:#1f5fa8;
        --good:#1a7f37; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
header { padding: 20px 32px 14px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 650; }
header p { margin: 0; color: var(--muted); }
main { padding: 8px 32px 32px; max-width: 1360px; }
section { margin-top: 26px; }
h2 { font-size: 17px; margin: 0 0 4px; font-weight: 650; }
h3 { font-size: 14px; margin: 14px 0 4px; font-weight: 650; }
p.lead { margin: 0 0 10px; color: var(--muted); max-width: 980px; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 4px; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { background: #eaf3ea; font-weight: 600; }
tr.bad td { color: var(--bad); }
tr.muted td { color: var(--muted); }
span.ok { color: var(--good); font-weight: 600; }
span.fail { color: var(--bad); font-weight: 600; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12.5px; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 10px 12px; overflow-x: auto; margin: 6px 0; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 3px 16px; margin: 6px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 4px 28px; }
.charts figure { flex: 0 0 auto; max-width: 640px; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 2px; max-width: 900px; }
svg { font-family: inherit; display: block; }
svg text { fill: #1d2430; }
svg .tick text, svg text.tick { fill: #5b6472; font-size: 11px; }
svg .grid { stroke: #e6e9ee; }
svg .axis { stroke: #8a93a0; }
svg text.halo { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }
.verdict { border-left: 4px solid var(--accent); background: var(--panel); padding: 8px 12px; margin: 10px 0; max-width: 980px; }
.verdict.bad { border-left-color: var(--bad); }
.verdict.good { border-left-color: var(--good); }
footer { color: var(--muted); font-size: 12px; padding: 12px 32px 24px; border-top: 1px solid var(--line); }
)CSS";

std::string html_page(const std::string& title, const std::string& subtitle, const std::string& body) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     // No fetch of any kind: only the inline stylesheet may apply. The page has no script.
     << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<title>" << html_escape(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
     << "<header><h1>" << html_escape(title) << "</h1><p>" << html_escape(subtitle) << "</p></header>\n<main>\n"
     << body << "</main>\n<footer>Written by <code>planner report</code>. A single self-contained file: "
     << "no script, no fonts or images from elsewhere; hover a bar or point for its exact value.</footer>\n"
     << "</body>\n</html>\n";
  return os.str();
}

std::string section(const std::string& id, const std::string& heading, const std::string& lead,
                    const std::string& inner) {
  std::ostringstream os;
  os << "<section id=\"" << html_escape(id) << "\"><h2>" << html_escape(heading) << "</h2>\n";
  if (!lead.empty()) os << "<p class=\"lead\">" << html_escape(lead) << "</p>\n";
  os << inner << "</section>\n";
  return os.str();
}

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>" + svg + "<figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

std::string error_pct_html(double error, double threshold) {
  const std::string txt = (error >= 0 ? "+" : "") + fmt_pct(error);
  return std::fabs(error) <= threshold ? "<span class=\"ok\">" + txt + "</span>" : "<span class=\"fail\">" + txt + "</span>";
}

}  // namespace planner::reports
