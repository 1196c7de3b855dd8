#include "app/suggest.h"

#include "core/error.h"
#include "core/limits.h"
#include "planner/output.h"
#include "reports/report.h"

namespace planner::app {

int run_suggest(const SuggestOptions& o) {
  if (o.setup.model.empty()) throw InputError("--model", "", "required (a preset name or a config.json)");
  if (o.setup.nodes > 0 || o.setup.gpus > 0)
    throw InputError(o.setup.nodes > 0 ? "--nodes" : "--gpus", "",
                     "suggest sweeps cluster sizes itself; bound it with --min-gpus/--max-gpus/--max-nodes");
  if (o.objective == "cheapest" && o.price <= 0)
    throw InputError("--objective", "", "'cheapest' needs --price-per-gpu-hour > 0");
  if (o.min_gpus > o.max_gpus)
    throw InputError("--min-gpus", "", std::to_string(o.min_gpus) + " > --max-gpus " + std::to_string(o.max_gpus));
  Setup s = resolve_setup(o.setup);
  SearchSpace space = resolve_knobs(o.knobs);
  if (o.knobs.tp == "auto") space.tps = {s.cluster.gpus_per_node};
  SuggestGoal g;
  g.token_budget = o.tokens;
  g.deadline_days = o.deadline_days;
  g.max_nodes = o.max_nodes;
  g.price_per_gpu_hour = o.price;
  g.minimize_cost = o.objective == "cheapest";
  g.min_gpus = o.min_gpus;
  g.max_gpus = o.max_gpus;
  SuggestResult r = suggest_cluster(s.model, s.training, s.cluster, space, g);
  if (!o.report.empty()) write_file_atomic(o.report, reports::render_html_report(suggest_to_json(r, g), "planner suggest"));
  if (o.format == "json")
    write_output(o.output, suggest_to_json(r, g).dump(2) + "\n");
  else if (o.format == "csv")
    write_output(o.output, suggest_csv(r, g));
  else {
    Simulator sim(s.model, s.training, s.cluster);
    write_output(o.output, describe_setup(sim) + "\n" + suggest_table(r, g));
  }
  return r.recommended ? 0 : 1;
}

CLI::App* add_suggest(CLI::App& cli, SuggestOptions* o) {
  CLI::App* cmd = cli.add_subcommand("suggest", "Size a cluster: the smallest (or cheapest) that trains the token budget in time");
  add_setup_options(cmd, &o->setup);
  add_knob_options(cmd, &o->knobs);
  // Bounds: 1e18 tokens is 60,000x Llama 3's 15T; 1e6 days is 2,700 years; 1e9 per GPU-hour.
  cmd->add_option("--tokens", o->tokens, "Token budget to train on, e.g. 15e12")
      ->required()
      ->check(finite_number(0, 1e18, /*lo_open=*/true));
  cmd->add_option("--deadline-days", o->deadline_days, "Deadline in days (0: none)")->check(finite_number(0, 1e6));
  cmd->add_option("--max-nodes", o->max_nodes, "Node budget (0: up to --max-gpus)")->check(int_in(0, limits::kMaxWorld));
  cmd->add_option("--price-per-gpu-hour", o->price, "Price of one GPU-hour (any currency)")->check(finite_number(0, 1e9));
  cmd->add_option("--objective", o->objective, "smallest (fewest nodes) or cheapest (needs a price)")
      ->check(CLI::IsMember({"smallest", "cheapest"}))
      ->capture_default_str();
  cmd->add_option("--min-gpus", o->min_gpus, "Smallest cluster tried")
      ->check(int_in(1, limits::kMaxWorld))
      ->capture_default_str();
  cmd->add_option("--max-gpus", o->max_gpus, "Largest cluster tried")
      ->check(int_in(1, limits::kMaxWorld))
      ->capture_default_str();
  add_format_option(cmd, &o->format);
  add_output_option(cmd, &o->output, "Write the output to a file (default: stdout)");
  cmd->add_option("--report", o->report, "Also write a self-contained HTML report (scaling curve)");
  add_quiet_flag(cmd, &o->setup.quiet);
  return cmd;
}

}  // namespace planner::app
