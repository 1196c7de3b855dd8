#include "app/plan.h"

#include <iostream>

#include "core/error.h"
#include "core/plan_file.h"
#include "planner/exports.h"
#include "planner/output.h"
#include "reports/report.h"

namespace planner::app {

namespace {

// The embedded default: the seed's FeedForward(8192, 8192) on 4 GPUs (Lightning's tensor-parallel
// example), and Llama-3-70B on four 8x H100 nodes.
std::vector<PlanOptions> embedded_examples(const PlanOptions& base) {
  PlanOptions ff = base;
  ff.setup.model = "feedforward";
  ff.setup.cluster = "h100-sxm";
  ff.setup.gpus = 4;
  PlanOptions llama = base;
  llama.setup.model = "llama3-70b";
  llama.setup.cluster = "h100-sxm";
  llama.setup.nodes = 4;
  return {ff, llama};
}

std::string run_one(const PlanOptions& o, PlanSearchResult* out_result, Setup* out_setup) {
  Setup s = resolve_setup(o.setup);
  SearchSpace space = resolve_knobs(o.knobs);
  if (o.knobs.tp == "auto") space.tps = {std::min(s.cluster.gpus_per_node, s.cluster.world())};
  for (int64_t tp : space.tps)
    if (s.cluster.world() % tp != 0)
      throw InputError("--tp", "", "tp(" + std::to_string(tp) + ") does not divide the world size " +
                                       std::to_string(s.cluster.world()) + " (" + std::to_string(s.cluster.num_nodes) +
                                       " nodes x " + std::to_string(s.cluster.gpus_per_node) + " GPUs)");
  Simulator sim(s.model, s.training, s.cluster);
  PlanSearchResult r = search_plans(sim, space, o.format == "csv" ? 0 : std::max<size_t>(o.top, 1));
  std::string text;
  if (!o.report.empty()) write_file_atomic(o.report, reports::render_html_report(search_to_json(sim, r), "planner plan"));
  if (!o.export_name.empty()) {
    if (r.ranked.empty()) throw InputError("--export", "", "no feasible plan to export (run without --export to see why)");
    for (const Export& e : all_exports(r.ranked.front().plan, s.training, s.model, s.cluster.gpus_per_node,
                                       s.cluster.num_nodes)) {
      if (e.name != o.export_name) continue;
      text = e.text;
      // Knobs the target cannot express go to stderr even under --quiet: the export differs from the plan.
      for (const auto& w : e.warnings) std::cerr << "warning: " << e.name << ": " << w << "\n";
    }
  } else if (o.format == "json") {
    text = search_to_json(sim, r).dump(2) + "\n";
  } else if (o.format == "csv") {
    text = candidates_csv(r.ranked);
  } else {
    text = search_table(sim, r, o.top);
  }
  if (out_result) *out_result = std::move(r);
  if (out_setup) *out_setup = std::move(s);
  return text;
}

}  // namespace

int run_plan(const PlanOptions& o) {
  if (!o.export_name.empty() && o.format != "table")
    throw InputError("--export", "", "prints one export; give --export or --format " + o.format + ", not both");
  if (o.setup.model.empty()) {
    if (o.format != "table")
      throw InputError("--model", "", "required with --format " + o.format + " (without --model, plan runs the two embedded examples as tables)");
    if (!o.write_plan.empty()) throw InputError("--write-plan", "", "needs --model (which plan should it write?)");
    if (!o.report.empty()) throw InputError("--report", "", "needs --model (one report per question)");
    if (!o.export_name.empty()) throw InputError("--export", "", "needs --model (which plan should it export?)");
    std::string text;
    int i = 0;
    for (const auto& ex : embedded_examples(o)) {
      text += (i++ ? "\n\n" : "") + std::string("=== Example: planner plan --model ") + ex.setup.model + " --cluster " +
              ex.setup.cluster + (ex.setup.gpus ? " --gpus " + std::to_string(ex.setup.gpus) : "") +
              (ex.setup.nodes ? " --nodes " + std::to_string(ex.setup.nodes) : "") + " ===\n";
      text += run_one(ex, nullptr, nullptr);
    }
    write_output(o.output, text);
    return 0;
  }
  PlanSearchResult r;
  Setup s;
  std::string text = run_one(o, &r, &s);
  write_output(o.output, text);
  if (!o.write_plan.empty()) {
    if (r.ranked.empty())
      throw InputError("--write-plan", "", "no feasible plan to write (see the rejected splits above)");
    PlanFile f{s.model, s.training, r.ranked.front().plan, s.cluster, candidate_to_json(r.ranked.front())};
    write_plan_file(o.write_plan, f);
    if (!o.setup.quiet) std::cerr << "wrote " << o.write_plan << " (" << plan_label(r.ranked.front().plan) << ")\n";
  }
  return r.ranked.empty() ? 1 : 0;  // the question was valid; the answer may be "nothing fits"
}

CLI::App* add_plan(CLI::App& cli, PlanOptions* o) {
  CLI::App* cmd = cli.add_subcommand(
      "plan", "Rank every (dp, tp) split and knob setting by predicted throughput (no --model: the embedded examples)");
  add_setup_options(cmd, &o->setup);
  add_knob_options(cmd, &o->knobs);
  add_format_option(cmd, &o->format);
  cmd->add_option("--top", o->top, "How many ranked candidates to show")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--write-plan", o->write_plan, "Write the best plan as a plan file (for planner train)");
  add_output_option(cmd, &o->output, "Write the output to a file (default: stdout)");
  cmd->add_option("--report", o->report, "Also write a self-contained HTML report (charts per split)");
  cmd->add_option("--export", o->export_name,
                  "Print the best plan for another framework instead of the table: lightning (a training script), "
                  "torchtitan-toml (v0.2.2 job config), torchtitan-py (Python config after v0.2.2)")
      ->check(CLI::IsMember(export_names()));
  add_quiet_flag(cmd, &o->setup.quiet);
  return cmd;
}

}  // namespace planner::app
