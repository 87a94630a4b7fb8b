#pragma once
// Workload requests followed through a log's frames, as the run summary counts them: a request
// starts when an attempt of it leaves its client (a node of kind CLIENT) and ends when a frame
// concludes it there (concludes_request); its latency runs from the earliest attempt seen leaving.
// The viewer's metrics, `flowframe export --format csv` and `flowframe diff` all count this way.
#include <map>
#include <utility>
#include <variant>

#include "runtime/framelog/frame_log.hpp"
#include "runtime/framelog/frame_text.hpp"

namespace flowframe {

using RequestKey = std::pair<std::uint32_t, std::uint64_t>;  // (client, request number)

// `Extra`: what a reader keeps per request besides when it started.
template <class Extra = std::monostate>
class RequestTracker {
 public:
  struct Request {
    Time sent = 0;  // its earliest attempt's leaving
    Extra extra{};
  };
  // What one frame meant for its request.
  struct Seen {
    RequestKey key;
    Request* request = nullptr;  // under way, started by this frame or before (nullptr: none, or not in the log)
    bool started = false;        // this frame is its first attempt seen
    bool ends = false;           // this frame concludes it (then call end(key) once it is read)
  };

  explicit RequestTracker(const v1::LogHeader& header) : header_(header) {}

  // Frames in log order.
  Seen see(const FrameView& view) {
    const auto& f = view.frame;
    Seen seen{{f.client(), f.request()}};
    const bool from_client = leaves_client(f, header_);
    auto found = under_way_.find(seen.key);
    if (found == under_way_.end() && from_client) {
      found = under_way_.emplace(seen.key, Request{view.sent}).first;
      seen.started = true;
    } else if (found != under_way_.end() && from_client) {
      found->second.sent = std::min(found->second.sent, view.sent);  // a retry delivered before a slower first attempt
    }
    if (found != under_way_.end()) seen.request = &found->second;
    seen.ends = concludes_request(f, header_);
    return seen;
  }
  void end(const RequestKey& key) { under_way_.erase(key); }
  // Requests that started and have not ended, by key.
  const std::map<RequestKey, Request>& under_way() const { return under_way_; }

 private:
  const v1::LogHeader& header_;
  std::map<RequestKey, Request> under_way_;
};

}  // namespace flowframe
