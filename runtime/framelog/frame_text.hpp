#pragma once
// Frames in words: the summary a learner reads (`GET /users -> server-2`, `503 queue full`),
// a one-line text form and a JSON form. Shared by `flowframe inspect` and the viewer.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "runtime/framelog/frame_log.hpp"

namespace flowframe {

class FrameText {
 public:
  explicit FrameText(const v1::LogHeader& header) : header_(header) {}

  const std::string& node(std::uint32_t index) const;
  std::string summary(const v1::Frame& frame) const;
  std::string line(const FrameView& view) const;
  nlohmann::ordered_json json(const FrameView& view) const;
  // "GET /users/7": the request's method and path.
  std::string path(const v1::Frame& frame) const;

 private:
  const v1::LogHeader& header_;
};

// Whether a frame is an error or refusal (a 4xx/5xx the receiver does not handle itself, a
// rejection, a loss). A 404 its receiver handles by asking elsewhere (a cache miss sending the
// app to the database) is not one.
bool is_error(const v1::Frame& frame);

// Whether a frame is a message between two nodes (a request, response or one-way message; not a
// node's own timer, nor a change the director made).
bool is_hop(const v1::Frame& frame);

// The index of the node with this id, if the log has one.
std::optional<std::uint32_t> node_named(const v1::LogHeader& header, const std::string& id);

// Whether a node of the log is a workload client (kind CLIENT); false for an index it does not have.
bool is_client(const v1::LogHeader& header, std::uint32_t node);

// Whether a frame is an attempt of a workload request leaving its client.
bool leaves_client(const v1::Frame& frame, const v1::LogHeader& header);

// Whether a frame ends a workload request at its client (a node of kind CLIENT), as the run
// summary counts it: answered (completed), given up after retries, or timed out (a 504).
bool concludes_request(const v1::Frame& frame, const v1::LogHeader& header);

// A server's busy time over its capacity time from the start to `now`, with `load` requests in
// service since its last accounting; nullopt before it had any capacity.
std::optional<double> utilization(const v1::ServerState& server, std::uint32_t load, Time now);

}  // namespace flowframe
