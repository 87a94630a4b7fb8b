#pragma once
// A frame log in the formats other tools read. Traces (Perfetto's protobuf, Chrome's JSON): each
// node a process with an `events` track, one `lane` track per request it works on at once and
// counters for its in-flight and waiting requests; each request's stay at a node a slice (from
// arrival to its answer leaving; at its client, from first send to its end); each hop an arrow
// from its sending to its delivery. CSV: one row per workload request.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "runtime/framelog/frame_log.hpp"

namespace flowframe {

enum class ExportFormat { perfetto, chrome_json, csv };
// "perfetto", "chrome-json" or "csv".
std::optional<ExportFormat> parse_export_format(std::string_view name);
// The file name ending a format's readers expect: ".perfetto-trace", ".json", ".csv".
std::string_view export_extension(ExportFormat format);

struct ExportCounts {
  std::uint64_t frames = 0;
  std::uint64_t slices = 0;        // traces
  std::uint64_t flows = 0;         // traces
  std::uint64_t counter_values = 0;  // traces
  std::uint64_t rows = 0;          // CSV, besides its header
};

// Reads every chunk of `reader`'s log in order and writes it to `out`. Damaged chunks are
// skipped (reader.health() names them); work still open when the log ends closes at its last
// time, marked unfinished.
ExportCounts export_log(FrameLogReader& reader, ExportFormat format, std::ostream& out);

}  // namespace flowframe
