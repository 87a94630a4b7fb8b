#pragma once
// What both consumer kinds share: when they start, and where they write what they processed, one
// row per message in a database table, whose primary key turns a second write of the same message
// into 409, a duplicate seen and counted instead of done twice (an idempotent consumer).
#include <fmt/format.h>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"

namespace flowframe {

enum class Written { done, duplicate, failed };

inline Written written_as(std::uint16_t status) {
  if (status == 200 || status == 201) return Written::done;
  return status == 409 ? Written::duplicate : Written::failed;
}

// A consumer deployed `start_s` into the run: at time 0 it only sets a timer (`status`) for then.
// Returns whether it deferred; a restart after a crash starts at once.
inline bool defer_start(const v1::ConsumerParams& params, std::uint16_t status, Context& context) {
  if (context.now() != 0 || params.start_s() <= 0) return false;
  context.schedule(from_seconds(params.start_s()), timer_event(status));
  return true;
}

// Inserts row `row` on behalf of `processed` (its client and request, so the write is traced with
// the message); `token` comes back in the answer.
inline void write_row(const Event& processed, std::int64_t token, NodeIndex database, const std::string& table,
                      std::uint64_t row, const std::string& by, Context& context) {
  auto insert = std::make_shared<v1::Payload>();
  insert->set_op(v1::Payload::INSERT);
  insert->set_table(table);
  insert->set_value(fmt::format("{{\"message\":{},\"by\":\"{}\"}}", row, by));
  Event query = sub_request(processed, token, std::move(insert));
  query.id = row;
  query.deadline = kTimeNever;
  context.call(database, query);
}

}  // namespace flowframe
