// planner-topology/1 (planner probe --format json): the page (host, GPUs, the GPU-to-GPU bandwidth
// heat map, rings, NICs, notes) and the CSV (one row per GPU pair).
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "reports/charts.h"
#include "reports/csv.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"

namespace planner::reports {

namespace {

std::string opt_int(int64_t v) { return v < 0 ? "?" : std::to_string(v); }  // -1: the source does not say

}  // namespace

std::string render_topology_html(const Json& doc, const std::string& source, std::string* title, std::string* sub) {
  JsonReader r(doc, source);
  *title = "Topology: " + r.get_string("source", "?");
  *sub = source + " \xC2\xB7 planner-topology/1";
  std::vector<std::pair<std::string, std::string>> facts;
  if (r.has("host")) {
    JsonReader h = r.child("host");
    std::vector<std::string> parts;
    if (!h.get_string("machine", "").empty()) parts.push_back(html_escape(h.get_string("machine")));
    if (!h.get_string("cpu_model", "").empty()) parts.push_back(html_escape(h.get_string("cpu_model")));
    std::string counts;
    for (const char* k : {"packages", "numa_nodes", "cores"}) {
      const int64_t n = h.get_int(k, 0, 0);
      if (n > 0) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + (std::string(k) == "numa_nodes" ? "NUMA node(s)" : std::string(k) == "packages" ? "package(s)" : "cores");
    }
    if (!counts.empty()) parts.push_back(counts);
    if (get_num(h, "memory_gib", 0) > 0) parts.push_back(fmt_fixed(get_num(h, "memory_gib"), 1) + " GiB");
    std::string v;
    for (const auto& p : parts) v += (v.empty() ? "" : " &middot; ") + p;
    if (v.empty()) v = "not described by this source";
    facts.push_back({"host", v});
  }
  if (r.has("inter_socket")) {
    JsonReader s = r.child("inter_socket");
    const double bw = get_num(s, "bw_GBps", 0);  // 0: the source does not say
    facts.push_back({"between sockets", (bw > 0 ? fmt_sig(bw, 3) + " GB/s" : std::string("unknown")) + " (" +
                                            html_escape(s.get_string("why", "")) + ")"});
  }
  if (r.has("nvlink")) facts.push_back({"NVLink", html_escape(r.child("nvlink").get_string("status", ""))});
  std::ostringstream body;
  body << section("summary", "Summary", "", render_facts(facts));

  std::vector<std::string> gpu_names;
  if (r.has("gpus")) {
    const Json& gs = get_array(r, "gpus");
    HtmlTable t;
    t.headers = {"#", "name", "bus id", "planned", "socket", "NUMA", "memory (GiB)", "NVLink"};
    t.numeric_cols = {0, 4, 5, 6};
    for (size_t i = 0; i < gs.size(); ++i) {
      JsonReader g = element(r, "gpus", i);
      gpu_names.push_back(g.get_string("name", "?"));
      const bool planned = g.get_bool("planned", false);
      t.rows.push_back({std::to_string(i), html_escape(g.get_string("name", "?")), "<code>" + html_escape(g.get_string("busid", "")) + "</code>",
                        planned ? "yes" : "no: " + html_escape(g.get_string("excluded_why", "")), opt_int(g.get_int("package", -1, -1)), opt_int(g.get_int("numa", -1, -1)),
                        get_num(g, "memory_gib", 0) > 0 ? fmt_fixed(get_num(g, "memory_gib", 0), 1) : "?",
                        html_escape(g.get_string("nvlink_generation", ""))});
      t.row_classes.push_back(planned ? "" : "muted");
    }
    if (!gs.empty()) body << section("gpus", "GPUs", "", render_table(t));
  }
  if (r.has("matrix")) {
    JsonReader m = r.child("matrix");
    const std::vector<double> idx = get_numbers(m, "gpus");
    const Json& bw = get_array(m, "bw_GBps");
    const Json& ty = m.has("type") ? get_array(m, "type") : Json::array();
    const size_t n = idx.size();
    if (bw.size() != n)
      throw InputError(source, "matrix.bw_GBps", "has " + std::to_string(bw.size()) + " rows for " + std::to_string(n) + " GPUs");
    if (n == 0) {
      body << section("matrix", "GPU-to-GPU bandwidth", "", "<p>No GPU the planner can plan on was found, so there is no matrix.</p>");
    } else {
      HeatMap h;
      h.title = "GPU-to-GPU bandwidth per direction";
      h.unit = "GB/s per direction";
      for (size_t i = 0; i < n; ++i) {
        h.row_labels.push_back("GPU" + fmt_fixed(idx[i], 0));
        h.col_labels.push_back("GPU" + fmt_fixed(idx[i], 0));
      }
      for (size_t i = 0; i < n; ++i) {
        if (!bw[i].is_array() || bw[i].size() != n)
          throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "]", "expected an array of " + std::to_string(n) + " numbers");
        std::vector<double> vrow;
        std::vector<std::string> trow, tiprow;
        for (size_t j = 0; j < n; ++j) {
          const Json& v = bw[i][j];
          if (!v.is_number())
            throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "][" + std::to_string(j) + "]", "expected a number, got " + json_type_name(v));
          const double x = v.get<double>();
          const std::string type = i < ty.size() && ty[i].is_array() && j < ty[i].size() && ty[i][j].is_string() ? ty[i][j].get<std::string>() : "";
          vrow.push_back(i == j ? NAN : x);
          trow.push_back(i == j ? "X" : (type.empty() ? "" : type + " ") + (x > 0 ? fmt_sig(x, 3) : "?"));
          tiprow.push_back("GPU" + fmt_fixed(idx[i], 0) + " \xE2\x86\x92 GPU" + fmt_fixed(idx[j], 0) + ": " +
                           (i == j ? "self" : (x > 0 ? fmt_sig(x, 4) + " GB/s" : "bandwidth unknown") + (type.empty() ? "" : " via " + type)));
        }
        h.values.push_back(vrow);
        h.text.push_back(trow);
        h.tips.push_back(tiprow);
      }
      body << section("matrix", "GPU-to-GPU bandwidth",
                      "Effective bandwidth of each GPU pair per direction, with its path class (NV: NVLink, NVS: NVSwitch, PIX/PXB: "
                      "PCIe switch, PHB: host bridge, NODE: same NUMA node, SYS: across sockets). Darker is faster.",
                      figure(heat_map_svg(h), "Hover a cell for its exact bandwidth."));
    }
  }
  if (r.has("rings")) {
    const Json& rs = get_array(r, "rings");
    HtmlTable t;
    t.headers = {"TP group size", "ring bandwidth (GB/s)", "bottleneck", "why"};
    t.numeric_cols = {0, 1};
    for (size_t i = 0; i < rs.size(); ++i) {
      JsonReader x = element(r, "rings", i);
      const double bw = get_num(x, "bw_GBps", 0);  // 0: unknown, not a bandwidth of zero
      t.rows.push_back({std::to_string(x.get_int("group_size", 1)), bw > 0 ? fmt_sig(bw, 4) : "unknown", html_escape(x.get_string("bottleneck", "")),
                        html_escape(x.get_string("why", ""))});
    }
    if (!rs.empty())
      body << section("rings", "Ring bandwidth of consecutive GPU groups", "TP groups are consecutive ranks; the worst group's narrowest ring edge.",
                      render_table(t));
  }
  if (r.has("nics")) {
    const Json& ns = get_array(r, "nics");
    HtmlTable t;
    t.headers = {"name", "kind", "bus id", "rate (Gb/s)", "RDMA", "socket"};
    t.numeric_cols = {3, 5};
    for (size_t i = 0; i < ns.size(); ++i) {
      JsonReader x = element(r, "nics", i);
      const double rate = get_num(x, "rate_Gbps", 0);
      t.rows.push_back({html_escape(x.get_string("name", "")), html_escape(x.get_string("kind", "")), "<code>" + html_escape(x.get_string("busid", "")) + "</code>",
                        rate > 0 ? fmt_sig(rate, 4) : "unknown", x.get_bool("rdma", false) ? "yes" : "no",
                        opt_int(x.get_int("package", -1, -1))});
    }
    if (!ns.empty()) body << section("nics", "Network interfaces", "", render_table(t));
  }
  if (r.has("notes")) {
    const Json& ns = get_array(r, "notes");
    if (!ns.empty()) {
      std::string ul = "<ul>";
      for (const auto& n : ns) ul += "<li>" + html_escape(n.is_string() ? n.get<std::string>() : n.dump()) + "</li>";
      body << section("notes", "Notes", "", ul + "</ul>\n");
    }
  }
  return body.str();
}

std::string render_topology_csv(const Json& doc, const std::string& source) {
  JsonReader r(doc, source);
  JsonReader m = r.child("matrix");
  const auto idx = get_numbers(m, "gpus");
  const Json& bw = get_array(m, "bw_GBps");
  const Json& ty = m.has("type") ? get_array(m, "type") : Json::array();
  std::string out = csv_row({"gpu_a", "gpu_b", "path_type", "bw_GBps"});
  for (size_t i = 0; i < idx.size() && i < bw.size(); ++i)
    for (size_t j = 0; j < idx.size() && bw[i].is_array() && j < bw[i].size(); ++j) {
      if (!bw[i][j].is_number())
        throw InputError(source, "matrix.bw_GBps[" + std::to_string(i) + "][" + std::to_string(j) + "]", "expected a number");
      const std::string type = i < ty.size() && ty[i].is_array() && j < ty[i].size() && ty[i][j].is_string() ? ty[i][j].get<std::string>() : "";
      const double x = bw[i][j].get<double>();  // <= 0: unknown (or the GPU itself): an empty field, not 0
      out += csv_row({csv_num(idx[i]), csv_num(idx[j]), type, x > 0 && i != j ? csv_num(x) : std::string()});
    }
  return out;
}

}  // namespace planner::reports
