// Small HTML helpers for the reports: escaping, number formatting, tables and the page shell.
// Everything is static text: no script, no external resource (docs/reports.md, "Why inline SVG").
#pragma once
#include <string>
#include <vector>

namespace planner::reports {

// Escapes &, <, >, " and ' for text and attribute values.
std::string html_escape(const std::string& s);

// Number formatting for display. sig: significant digits.
std::string fmt_sig(double v, int sig = 4);         // 4 significant digits, scientific only outside [1e-3, 1e7)
std::string fmt_fixed(double v, int decimals);      // "%.*f"
std::string fmt_pct(double fraction, int decimals = 1);  // 0.1234 -> "12.3%"
std::string fmt_gib(double bytes);                  // "12.34 GiB"
std::string fmt_s(double seconds);                  // "1.234 s", "12.35 ms", "45.0 us"
std::string fmt_count(double v);                    // 129189.2 -> "129,189"
std::string fmt_bytes_auto(double bytes);           // "512 B", "1.50 MiB", "2.00 GiB"
std::string fmt_si(double v);                       // 1.5e13 -> "15.0T", 2.5e6 -> "2.50M"

// An HTML table: header texts (escaped here) and rows of cells that are already HTML.
// Columns listed in numeric_cols are right-aligned with tabular digits.
struct HtmlTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> numeric_cols;
  std::vector<std::string> row_classes;  // optional, one per row ("best", "bad", "muted")
  std::string caption;                   // optional, escaped
};
std::string render_table(const HtmlTable& t);

// A label/value list (<dl>) for settings: pairs of (escaped label, HTML value).
std::string render_facts(const std::vector<std::pair<std::string, std::string>>& facts);

// The whole document: <head> with an inline stylesheet and a Content-Security-Policy that forbids
// every network fetch, then the header (title, subtitle) and the body HTML.
std::string html_page(const std::string& title, const std::string& subtitle, const std::string& body);

// <section> with an <h2> and an optional one-line lead paragraph (escaped).
std::string section(const std::string& id, const std::string& heading, const std::string& lead,
                    const std::string& inner);

// A chart (SVG) with its caption (escaped) below it.
std::string figure(const std::string& svg, const std::string& caption);

// A prediction error (a fraction, signed: "+2.0%", "-20.0%") in green when |error| <= threshold,
// else red: how the run and validate pages judge a prediction against a measurement.
std::string error_pct_html(double error, double threshold);

}  // namespace planner::reports
