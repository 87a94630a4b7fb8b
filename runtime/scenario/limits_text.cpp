#include "runtime/scenario/limits_text.hpp"

#include <google/protobuf/descriptor.h>

#include <fmt/format.h>

#include <set>

#include "flowframe/v1/control.pb.h"
#include "flowframe/v1/limits.pb.h"
#include "flowframe/v1/scenario.pb.h"
#include "runtime/base/limits.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Message types in the order a reader meets them from `root`, each once.
void collect(const Descriptor* type, std::vector<const Descriptor*>& out, std::set<const Descriptor*>& seen) {
  if (!seen.insert(type).second) return;
  out.push_back(type);
  for (int i = 0; i < type->field_count(); ++i)
    if (const auto* nested = type->field(i)->message_type(); nested && nested->file() != google::protobuf::DescriptorProto::descriptor()->file())
      collect(nested, out, seen);
}

}  // namespace

std::string limits_markdown() {
  std::string out =
      "## Sizes\n\n"
      "| What | Limit |\n|---|---|\n";
  const auto row = [&](const char* what, auto value) { out += fmt::format("| {} | {} |\n", what, value); };
  row("A scenario file's text (also a share link's scenario)", fmt::format("{} MiB", limits::kScenarioBytes >> 20));
  row("Nodes in a scenario, replicas counted", limits::kNodes);
  row("Members of one replicated node (`replicas`, `--set NODE.replicas=N`)", limits::kReplicas);
  row("Characters in a node id", limits::kIdentifierChars);
  row("Extra requests a live `burst` asks of each client", limits::kBurstPerClient);
  row("Extra requests one live `burst` makes, all clients together", limits::kBurst);
  row("A frame log's header (the scenario as run)", fmt::format("{} MiB", limits::kLogHeaderBytes >> 20));
  row("One chunk of a frame log, decompressed", fmt::format("{} MiB", limits::kChunkBytes >> 20));
  row("Frames in one chunk", limits::kChunkFrames);
  row("One live control message", fmt::format("{} KiB", limits::kControlBytes >> 10));
  row("Bytes waiting to be sent to one live client before the server stops reading from it",
      fmt::format("{} KiB", limits::kLiveSendWindow >> 10));
  row("Requests of one live client the run has not taken yet before the server stops reading from it",
      limits::kLiveWaitingRequests);
  row("Requests of one live client the run has not taken yet before it is disconnected as a flood",
      limits::kLiveFloodRequests);
  row("Runs at once a `flowframe worker` offers (`--jobs`), whatever it says", limits::kWorkerJobs);
  row("Runs a worker takes beyond its offer before it answers \"busy\" (they go elsewhere)", limits::kWorkerExtraRuns);
  out +=
      "\n## Numbers\n\n"
      "Every number must be finite (no `inf`, no `nan`) and inside its range, whether it comes from a\n"
      "scenario file, `--set`, a timed event, a live control or a share link. Fields not listed take any\n"
      "finite value their type holds; the checks of each kind may narrow them further (a capacity of at\n"
      "least 1, say) and say so when they do.\n\n"
      "| Message | Field | Range |\n|---|---|---|\n";
  std::vector<const Descriptor*> types;
  std::set<const Descriptor*> seen;
  collect(v1::Scenario::descriptor(), types, seen);
  collect(v1::ControlRequest::descriptor(), types, seen);
  for (const auto* type : types)
    for (int i = 0; i < type->field_count(); ++i) {
      const auto* field = type->field(i);
      const auto& options = field->options();
      if (options.HasExtension(v1::at_least) || options.HasExtension(v1::at_most))
        out += fmt::format("| {} | `{}` | {} |\n", type->name(), field->name(), range_text(*field));
    }
  return out;
}

}  // namespace flowframe
