// JSON of what the simulator predicts (simulator/prediction.h), both ways: planner writes it into
// every document (plan search, suggest, simulate, the plan file's "prediction") and reports read it
// back with these same functions, so a field is named in one place. Format: docs/formats.md.
//
// Readers keep accepting documents written before a field existed (each default below says which)
// and refuse a document whose derived fields (total_bytes, fits, fsdp_overlapped_s, feasible)
// disagree with the fields they are derived from, rather than show numbers that do not add up.
// Errors are InputError naming the file and the dotted field path
// ("splits[1].best.memory.activations_bytes").
#pragma once
#include "core/json_io.h"
#include "simulator/prediction.h"

namespace planner {

// Every field, plus the derived total_bytes and fits.
Json memory_to_json(const MemoryBreakdown& m);
// Documents before "peak_at" get "start of backward" (where the simulator put every peak then).
MemoryBreakdown memory_from_json(const JsonReader& r);

// Every field, plus the derived fsdp_overlapped_s.
Json time_to_json(const TimeBreakdown& t);
// "grad_accum" defaults to 1.
TimeBreakdown time_from_json(const JsonReader& r);

Json throughput_to_json(const Throughput& t);
// tokens_per_s is required; the other fields default to 0 (hand-made documents may omit them).
Throughput throughput_from_json(const JsonReader& r);

// Whether a candidate carries a prediction: it does when it is feasible or broke only the memory
// limit (the plan was well formed, so memory and time were priced). Writer and readers share this.
bool has_prediction(const Candidate& c);

// {"plan", "feasible", "limit", "reason" (infeasible only), and when has_prediction(c): "memory",
// "time", "throughput"}. memory_excess_bytes is not written (it is required - capacity).
Json candidate_to_json(const Candidate& c);
// "limit" defaults to "none" for a feasible candidate; "throughput" to zeros. memory_excess_bytes
// is recomputed for a memory-infeasible one.
Candidate candidate_from_json(const JsonReader& r);

const std::vector<std::string>& limit_names();  // to_string(Limit) of every Limit, in enum order
Limit limit_from_string(const std::string& s, const std::string& where, const std::string& field);

}  // namespace planner
