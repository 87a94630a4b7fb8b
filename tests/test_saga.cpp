// Sagas as run: the saga_orchestrated scenario's numbers (every effect of a compensated saga
// undone, none applied twice despite retries and a crash), a compensation that overtakes its action,
// the loader's checks, and `flowframe check` failing on frames a correct run never makes.
#include <gtest/gtest.h>

#include "runtime/check/sagas.hpp"
#include "support.hpp"

namespace flowframe {
namespace {

using test::builtin_text;
using RecordedSagas = test::Recorded;

RecordedSagas record_sagas(const std::vector<std::string>& overrides = {}, const std::string& extra = "") {
  return test::record_builtin("saga_orchestrated", overrides, extra);
}

std::uint64_t saga_figure(const RecordedSagas& r, const char* name) { return r.report.figures["orders"][name].get<std::uint64_t>(); }
std::uint64_t saga_node_figure(const RecordedSagas& r, const char* node, const char* name) {
  return r.run.summary["nodes"][node][name].get<std::uint64_t>();
}

TEST(Saga, EveryOrderIsCommittedOrFullyUndoneDespiteACrashAndTimeouts) {
  const auto r = record_sagas();
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto committed = saga_figure(r, "committed"), compensated = saga_figure(r, "compensated");
  EXPECT_EQ(saga_figure(r, "unfinished"), 0u);
  EXPECT_EQ(committed + compensated, saga_figure(r, "sagas"));
  // Each committed order holds one reservation, one charge and one shipment; each compensated one none.
  for (const char* participant : {"inventory", "payments", "shipping"})
    EXPECT_EQ(saga_node_figure(r, participant, "in_effect"), committed) << participant;
  // Every 5th new charge is declined (402) and its saga compensated; the others failed for good
  // (503: payments too slow three times) or were refused while the orchestrator was down.
  const auto& by_status = r.run.summary["requests"]["by_status"];
  // A declined charge whose answer came too late (payments slowed down) ends as a 503 instead:
  // after three attempts the saga gives up on it.
  const auto declined = by_status.value("402", std::uint64_t{0}), gave_up = by_status.value("503", std::uint64_t{0});
  EXPECT_LE(declined, saga_node_figure(r, "payments", "refused"));
  EXPECT_LE(saga_node_figure(r, "payments", "refused"), declined + gave_up);
  EXPECT_GT(declined, 40u);
  // The crash at 2.985 s caught a saga mid-charge: resumed from the log, its charge was repeated with
  // the same key and answered as done, not charged again. Its caller, which got no answer, asked again
  // and was answered from the log: every committed saga's caller got its 201, none started twice.
  EXPECT_EQ(by_status.value("201", std::uint64_t{0}), committed);
  EXPECT_EQ(saga_node_figure(r, "orders", "sagas_resumed"), 1u);
  EXPECT_EQ(r.run.summary["requests"]["retries"].get<std::uint64_t>(), 1u);
  EXPECT_GT(saga_figure(r, "repeated_calls"), 50u);  // the slow payments' retries
  EXPECT_GT(saga_figure(r, "exposed_sagas"), 0u);
}

TEST(Saga, ACompensationThatOvertakesItsActionIsRecordedAndTheLateActionRefused) {
  // From 5 s the link to payments takes 2 s: every attempt to charge times out, so the saga refunds
  // in case a charge went through. The link is quick again at 5.55 s: the refund arrives first, finds
  // nothing to undo and says so; the charges arriving later are refused, not applied for ever.
  const auto r = record_sagas({}, R"(
events { at_s: 5 node: "orders" fault { link { to: "payments" latency { mean_ms: 2000 } } } }
events { at_s: 5.55 node: "orders" fault { link { to: "payments" heal: true } } }
)");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  std::uint64_t voided = 0, refused_late = 0;
  for (const auto& view : r.frames) {
    voided += view.frame.outcome() == v1::Frame::STEP_VOIDED && view.frame.note().find("nothing to undo yet") != std::string::npos;
    refused_late += view.frame.outcome() == v1::Frame::STEP_REFUSED && view.frame.note().find("already compensated") != std::string::npos;
  }
  EXPECT_GT(voided, 0u);
  EXPECT_GE(refused_late, voided);  // each voided key's charge attempts came later and were refused
  EXPECT_EQ(saga_node_figure(r, "payments", "in_effect"), saga_figure(r, "committed"));
}

TEST(Saga, TheCheckFailsOnEffectsACorrectRunNeverMakes) {
  const auto r = record_sagas();
  // Replays the frames with one saga's charge applied twice, and another's saga ending committed
  // without its shipping.
  SagaLedger ledger(r.header);
  bool doubled = false, dropped = false;
  for (auto view : r.frames) {
    if (!dropped && view.frame.outcome() == v1::Frame::STEP_APPLIED && view.frame.note().rfind("schedule", 0) == 0) {
      dropped = true;
      continue;
    }
    ledger.feed(view);
    if (!doubled && view.frame.outcome() == v1::Frame::STEP_APPLIED && view.frame.note().rfind("charge", 0) == 0) {
      doubled = true;
      ledger.feed(view);
    }
  }
  CheckReport report;
  ledger.report(report);
  ASSERT_EQ(report.invariants.size(), 3u);
  EXPECT_FALSE(report.invariants[0].holds);
  EXPECT_NE(report.invariants[0].detail.find("committed with shipping applied 0 times"), std::string::npos) << report.invariants[0].detail;
  EXPECT_FALSE(report.invariants[1].holds);
  EXPECT_NE(report.invariants[1].detail.find("at payments: applied 2 times"), std::string::npos) << report.invariants[1].detail;
}

TEST(Saga, StepsThatCannotRunAreErrorsAtTheirLine) {
  const auto expect_error = [](const std::string& text, const std::string& from, const std::string& to, const std::string& expected) {
    test::expect_refused_edit(text, from, to, "saga.textproto", expected);
  };
  const auto text = builtin_text("saga_orchestrated");
  expect_error(text, "action: \"charge\"", "action: \"chrage\"", "saga_orchestrator.steps.action: 'payments' has no action 'chrage'");
  expect_error(text, "compensation: \"cancel\"", "compensation: \"refund\"",
               "saga_orchestrator.steps.compensation: 'shipping' has no compensation 'refund'");
  expect_error(text, "node: \"shipping\" action", "node: \"payments\" action", "'payments' already takes an earlier step");
  expect_error(text, "node: \"inventory\" action", "node: \"shop\" action", "'shop' is not a participant");
  expect_error(text, "refuse_status: 402", "refuse_status: 503", "participant.actions.refuse_status: must be a 4xx");
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

TEST(Saga, ARefusalInjectedAtTheLastStepUndoesBothEarlierSteps) {
  // From 1 s shipping refuses everything: each saga reserves and charges, is refused at its last
  // step, and refunds and releases, last first.
  const auto r = record_sagas({}, R"(events { at_s: 1 node: "shipping" set { field: "actions[0].refuse_every" value: "1" } })");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto committed = saga_figure(r, "committed");
  EXPECT_LT(committed, 45u);  // only sagas that scheduled their shipping before 1 s
  EXPECT_GT(saga_figure(r, "compensated"), 300u);
  for (const char* participant : {"inventory", "payments", "shipping"})
    EXPECT_EQ(saga_node_figure(r, participant, "in_effect"), committed) << participant;
  EXPECT_GT(saga_node_figure(r, "inventory", "undone"), 300u);
  EXPECT_EQ(saga_node_figure(r, "shipping", "undone"), 0u);  // a refused step took no effect to undo
}

}  // namespace
}  // namespace flowframe
