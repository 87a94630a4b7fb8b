// Choreographed sagas as run: the saga_choreography scenario's numbers (every saga ends, no effect
// twice though a crash makes payments process events again and the broker refuses publishes for a
// while), dual writes losing what the outbox keeps, every event of a saga in one partition in order,
// and the loader's checks of reactions.
#include <gtest/gtest.h>

#include "support.hpp"

namespace flowframe {
namespace {

using test::builtin_text;
using test::Recorded;

Recorded record_choreography(const std::vector<std::string>& overrides = {}) { return test::record_builtin("saga_choreography", overrides); }

// The built-in run, recorded once for the tests that read it.
const Recorded& builtin_run() {
  static const Recorded recorded = record_choreography();
  return recorded;
}

std::uint64_t choreography_figure(const Recorded& r, const char* name) { return r.report.figures["orders"][name].get<std::uint64_t>(); }
std::uint64_t choreography_node_figure(const Recorded& r, const char* node, const char* name) {
  return r.run.summary["nodes"][node].value(name, std::uint64_t{0});
}
const std::string& path_of(const Recorded& r, const v1::Frame& f) { return r.header.paths(static_cast<int>(f.path())); }

TEST(Choreography, EverySagaEndsAndNoEffectIsTwiceDespiteACrashAndRefusedPublishes) {
  const auto& r = builtin_run();
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto committed = choreography_figure(r, "committed"), compensated = choreography_figure(r, "compensated");
  EXPECT_EQ(choreography_figure(r, "unfinished"), 0u);
  EXPECT_EQ(committed + compensated, choreography_figure(r, "sagas"));
  EXPECT_EQ(choreography_figure(r, "sagas"), r.run.summary["requests"]["completed"].get<std::uint64_t>());  // each order answered 202 starts one
  // A committed order holds a reservation, a charge and a shipment; a declined one none of them.
  for (const char* service : {"inventory", "payments", "shipping"}) EXPECT_EQ(choreography_node_figure(r, service, "in_effect"), committed) << service;
  EXPECT_EQ(choreography_node_figure(r, "inventory", "undone"), compensated);
  EXPECT_EQ(choreography_node_figure(r, "payments", "refused"), compensated);  // every 5th card
  EXPECT_NEAR(static_cast<double>(compensated), static_cast<double>(choreography_figure(r, "sagas")) / 5, 1.0);
  // Payments crashed 0.9 s after its last auto-commit: it processed those events again, and the
  // charges among them were repeats (same saga), with no second charge and no second event.
  EXPECT_GT(choreography_node_figure(r, "payments", "repeated_events"), 20u);
  EXPECT_EQ(choreography_node_figure(r, "payments", "published"), choreography_figure(r, "sagas"));
  // While both followers were down, publishes were refused and the relays published again.
  std::uint64_t again = 0;
  for (const char* service : {"orders", "inventory", "payments", "shipping"}) {
    again += choreography_node_figure(r, service, "republished");
    EXPECT_EQ(choreography_node_figure(r, service, "unpublished"), 0u) << service;
    EXPECT_EQ(choreography_node_figure(r, service, "given_up"), 0u) << service;
  }
  EXPECT_GT(again, 20u);
  std::uint64_t refused = 0;
  for (const auto& view : r.frames) refused += view.frame.outcome() == v1::Frame::REJECTED_DOWN && r.header.nodes(static_cast<int>(view.frame.dst())).id() == "kafka";
  EXPECT_GT(refused, 0u);
}

TEST(Choreography, DualWritesLoseEventsThatTheOutboxKeeps) {
  const auto r = record_choreography({"orders.outbox=false", "inventory.outbox=false", "payments.outbox=false", "shipping.outbox=false"});
  EXPECT_FALSE(r.report.ok());
  EXPECT_GT(choreography_figure(r, "unfinished"), 20u);
  std::uint64_t given_up = 0;
  for (const char* service : {"orders", "inventory", "payments", "shipping"}) given_up += choreography_node_figure(r, service, "given_up");
  EXPECT_GE(given_up, choreography_figure(r, "unfinished"));
  // What did end is still consistent: the check fails on unfinished sagas only.
  const auto& ends = r.report.invariants;
  const auto found = std::find_if(ends.begin(), ends.end(), [](const Invariant& i) { return i.name == "orders: no effect applied twice or undone without its step, despite retries"; });
  ASSERT_NE(found, ends.end());
  EXPECT_TRUE(found->holds) << found->detail;
}

TEST(Choreography, EveryEventOfASagaIsInOnePartitionInCausalOrder) {
  const auto& r = builtin_run();
  const std::vector<std::string> order = {"EVENT OrderPlaced", "EVENT StockReserved", "EVENT PaymentCharged", "EVENT ShippingScheduled"};
  std::map<std::uint64_t, std::set<std::uint32_t>> partitions;
  std::map<std::uint64_t, std::vector<std::string>> events;  // as appended at the leader
  for (const auto& view : r.frames) {
    const auto& f = view.frame;
    if (f.outcome() != v1::Frame::APPENDED || f.kind() != v1::Frame::REQUEST || r.header.nodes(static_cast<int>(f.dst())).id() != "kafka") continue;
    partitions[f.request()].insert(f.partition());
    auto& seen = events[f.request()];
    if (std::find(seen.begin(), seen.end(), path_of(r, f)) == seen.end()) seen.push_back(path_of(r, f));
  }
  ASSERT_GT(partitions.size(), 300u);
  std::size_t committed = 0;
  for (const auto& [request, used] : partitions) EXPECT_EQ(used.size(), 1u) << "saga shop#" << request;
  for (const auto& [request, seen] : events) {
    if (seen.size() == 4 && seen.back() == order.back()) {
      ++committed;
      EXPECT_EQ(seen, order) << "saga shop#" << request;
    }
  }
  EXPECT_EQ(committed, choreography_figure(r, "committed"));
}

TEST(Choreography, ReactionsThatCannotRunAreErrorsAtTheirLine) {
  const auto expect_error = [](const std::string& text, const std::string& from, const std::string& to, const std::string& expected) {
    test::expect_refused_edit(text, from, to, "choreo.textproto", expected);
  };
  const auto text = builtin_text("saga_choreography");
  expect_error(text, "action: \"charge\" emit", "action: \"chrage\" emit", "event_service.reactions.action: 'chrage' is none of its actions");
  expect_error(text, "emit: \"StockReserved\"", "emit: \"StockReserved\" emit_refused: \"StockRefused\"",
               "event_service.reactions.emit_refused: only an action that can be refused");
  expect_error(text, "emit: \"ShippingScheduled\"", "emit: \"ShippingScheduled\" ends: COMMITTED",
               "event_service.reactions.ends: only the service that starts sagas");
  expect_error(text, "group: \"shipping\"", "group: \"\"", "event_service.subscription.group: missing");
  expect_error(text, "topic: \"saga\" group: \"inventory\"", "topic: \"sagas\" group: \"inventory\"",
               "event_service.subscription.topic: 'kafka' has no topic 'sagas'");
  expect_error(text, "reactions { on: \"StockReleased\"", "reactions { on: \"ShippingScheduled\"", "'ShippingScheduled' has a reaction already");
  expect_error(text, " emit_refused: \"PaymentDeclined\"", "", "event_service.reactions.emit_refused: missing: 'charge' can be refused");
  expect_error(text, "emit: \"ShippingScheduled\"", "emit: \"PaymentCharged\"", "'PaymentCharged' would react to itself for ever");
  expect_error(text, "id: \"shipping\"\n  kind: EVENT_SERVICE", "id: \"shipping\"\n  replicas: 2\n  kind: EVENT_SERVICE",
               "replicas: an event service keeps its effects and outbox itself");
  expect_error(text, "group: \"shipping\"", "group: \"payments\"", "'payments' consumes in group 'payments' too");
}

TEST(Choreography, ABurstLongerThanTheRelaysBatchIsPublishedWholeAfterWritesStop) {
  // 100 orders in 50 ms: each outbox holds far more than the 16 publishes a relay has in flight,
  // and nothing is written after them, so the relay must keep polling by itself.
  const auto r = record_choreography({"workload.rate=2000", "stop.requests=100"});
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  EXPECT_EQ(choreography_figure(r, "sagas"), 100u);
  EXPECT_EQ(choreography_figure(r, "unfinished"), 0u);
}

}  // namespace
}  // namespace flowframe
