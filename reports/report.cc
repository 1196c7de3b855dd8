// render_html_report / render_csv_report: the document's kind picks the renderer
// (reports/renderers.h).
#include "reports/report.h"

#include "core/error.h"
#include "reports/documents.h"
#include "reports/html.h"
#include "reports/renderers.h"

namespace planner::reports {

std::string render_html_report(const Json& doc, const std::string& source_name) {
  const DocKind kind = document_kind(doc, source_name);
  std::string title, sub, body;
  try {
    switch (kind) {
      case DocKind::plan_search: body = render_plan_search_html(doc, source_name, &title, &sub); break;
      case DocKind::simulate: body = render_simulate_html(doc, source_name, &title, &sub); break;
      case DocKind::suggest: body = render_suggest_html(doc, source_name, &title, &sub); break;
      case DocKind::run: body = render_run_html(doc, source_name, &title, &sub); break;
      case DocKind::topology: body = render_topology_html(doc, source_name, &title, &sub); break;
      case DocKind::validate: body = render_validate_html(doc, source_name, &title, &sub); break;
      case DocKind::benchmark: body = render_benchmark_html(doc, source_name, &title, &sub); break;
    }
  } catch (const Json::exception& e) {  // a wrong type deep inside that the typed getters did not catch
    throw json_exception_error(e, source_name, "not a valid " + to_string(kind) + " document: ");
  }
  return html_page(title, sub, body);
}

std::string render_csv_report(const Json& doc, const std::string& source_name) {
  const DocKind kind = document_kind(doc, source_name);
  try {
    switch (kind) {
      case DocKind::plan_search: return render_plan_search_csv(doc, source_name);
      case DocKind::suggest: return render_suggest_csv(doc, source_name);
      case DocKind::simulate: return render_simulate_csv(doc, source_name);
      case DocKind::run: return render_run_csv(doc, source_name);
      case DocKind::topology: return render_topology_csv(doc, source_name);
      case DocKind::validate: return render_validate_csv(doc, source_name);
      case DocKind::benchmark: return render_benchmark_csv(doc, source_name);
    }
  } catch (const Json::exception& e) {  // as above
    throw json_exception_error(e, source_name, "not a valid " + to_string(kind) + " document: ");
  }
  return "";
}

}  // namespace planner::reports
