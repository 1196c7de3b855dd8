// Units used across the project. Quantities carry their unit in their name (bytes, seconds,
// flops, bw_Bps); these helpers only convert for display or from vendor units.
// Rates are decimal as vendors publish them (1 GB/s = 1e9 B/s); capacities are bytes, shown in GiB.
#pragma once
#include <cstdint>

namespace planner {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kGB = 1e9;
constexpr double kTera = 1e12;

inline double bytes_to_gib(double bytes) { return bytes / kGiB; }
inline double gib_to_bytes(double gib) { return gib * kGiB; }
inline double gbps_to_Bps(double gb_per_s) { return gb_per_s * kGB; }         // GB/s -> B/s
inline double gbit_to_Bps(double gbit_per_s) { return gbit_per_s * 1e9 / 8.0; }  // Gb/s -> B/s

}  // namespace planner
