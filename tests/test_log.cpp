// The log broker's rules (partitions, keys, assignment, the eager group protocol) and the
// event_log scenario as run: order, replication, rebalances, lag and duplicates, all from frames.
#include <gtest/gtest.h>

#include "actors/log_broker/log.hpp"
#include "runtime/check/invariants.hpp"
#include "support.hpp"

namespace flowframe::messaging {
namespace {

TEST(Log, AppendsRetainsAndReadsBelowALimit) {
  PartitionLog log;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(log.append(Record{.key = "k", .appended = i * kNanosPerSecond}), static_cast<std::uint64_t>(i));
  EXPECT_EQ(log.retain(6, 0, 0), 4u);  // keeps the newest 6
  EXPECT_EQ(log.start(), 4u);
  EXPECT_EQ(log.end(), 10u);
  EXPECT_EQ(log.retain(0, 3 * kNanosPerSecond, 10 * kNanosPerSecond), 3u);  // offsets 4..6 are over 3 s old
  const auto read = log.read(0, 2, 9);  // from before the start: from the start
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].offset, 7u);
  EXPECT_TRUE(log.read(9, 5, 9).empty());  // nothing below the limit (the high watermark)
}

TEST(Log, AKeyAlwaysLandsInTheSamePartitionAndKeysSpread) {
  std::vector<int> per_partition(3, 0);
  for (int customer = 0; customer < 300; ++customer) {
    const auto key = "customer-" + std::to_string(customer);
    const auto p = partition_for_key(key, 3);
    EXPECT_EQ(partition_for_key(key, 3), p);
    ++per_partition[p];
  }
  for (const int count : per_partition) EXPECT_GT(count, 70);
}

TEST(Log, TruncateDropsOnlyTheTailAndTheLogGoesOnFromThere) {
  PartitionLog log;
  for (int i = 0; i < 5; ++i) log.append({});
  EXPECT_EQ(log.truncate(7), 0u);  // beyond the end: nothing to drop
  EXPECT_EQ(log.truncate(3), 2u);
  EXPECT_EQ(log.end(), 3u);
  EXPECT_EQ(log.append({}), 3u);  // the next record takes the first dropped offset
  log.retain(2, 0, 0);            // keeps offsets 2..3
  EXPECT_EQ(log.truncate(1), 2u); // below the start: empty, and it goes on from there
  EXPECT_EQ(log.start(), 1u);
  EXPECT_EQ(log.append({}), 1u);
}

TEST(Log, RangeAndRoundRobinAssignments) {
  const std::set<std::uint32_t> members{7, 3};
  const auto range = assign(v1::ConsumerParams::RANGE, members, 5);
  EXPECT_EQ(range.at(3), (std::vector<std::uint32_t>{0, 1, 2}));  // the first member gets the extra one
  EXPECT_EQ(range.at(7), (std::vector<std::uint32_t>{3, 4}));
  const auto dealt = assign(v1::ConsumerParams::ROUND_ROBIN, members, 5);
  EXPECT_EQ(dealt.at(3), (std::vector<std::uint32_t>{0, 2, 4}));
  EXPECT_EQ(dealt.at(7), (std::vector<std::uint32_t>{1, 3}));
  const auto crowded = assign(v1::ConsumerParams::RANGE, {1, 2, 3, 4}, 3);
  EXPECT_TRUE(crowded.at(4).empty());  // more members than partitions: one idles
}

TEST(Log, TheEagerProtocolRevokesEverythingAndRefusesStaleCommits) {
  Group group(3, v1::ConsumerParams::RANGE);
  EXPECT_TRUE(group.join(1, 0));
  EXPECT_TRUE(group.all_rejoined());
  group.complete();
  EXPECT_EQ(group.generation(), 1u);
  EXPECT_EQ(group.members().at(1).partitions.size(), 3u);
  EXPECT_TRUE(group.commit(1, 1, 2, 40));
  EXPECT_TRUE(group.join(2, 10));  // a new member: everyone must rejoin
  EXPECT_TRUE(group.rebalancing());
  EXPECT_FALSE(group.all_rejoined());
  EXPECT_TRUE(group.commit(1, 1, 2, 42));  // committing while revoking is still its generation
  EXPECT_FALSE(group.join(1, 11));         // rejoins: no new rebalance
  EXPECT_TRUE(group.all_rejoined());
  group.complete();
  EXPECT_EQ(group.generation(), 2u);
  EXPECT_FALSE(group.commit(1, 1, 0, 50));  // a zombie's commit from generation 1
  EXPECT_EQ(group.committed()[2], 42u);
  EXPECT_EQ(group.members().at(1).partitions, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(group.members().at(2).partitions, (std::vector<std::uint32_t>{2}));
  // A member that does not rejoin in time is dropped when the rebalance ends.
  EXPECT_TRUE(group.remove(2));
  EXPECT_FALSE(group.join(3, 20));  // joins the rebalance under way
  group.join(1, 21);
  EXPECT_TRUE(group.complete().empty());
  EXPECT_EQ(group.expired(3 * kNanosPerSecond + 20, 3 * kNanosPerSecond), (std::vector<std::uint32_t>{3}));
}

}  // namespace
}  // namespace flowframe::messaging

namespace flowframe {
namespace {

using RecordedKafkaLog = test::Recorded;

// Indices in event_log: director, shop, kafka, replica-1, replica-2, app-1, app-2, app-3, db.
constexpr std::uint32_t kShop = 1, kKafka = 2;

// Many keyframes to compare with the frames.
constexpr std::size_t kChunkFrames = 500;

RecordedKafkaLog record_builtin(const std::string& name, const std::vector<std::string>& overrides = {}, const std::string& extra = "") {
  return test::record_builtin(name, overrides, extra, kChunkFrames);
}

RecordedKafkaLog record_event_log(const std::vector<std::string>& overrides = {}, const std::string& extra = "") {
  return record_builtin("event_log", overrides, extra);
}

std::uint64_t kafka_figure(const RecordedKafkaLog& r, const char* name) { return r.report.figures["kafka"][name].get<std::uint64_t>(); }

// The frames of one outcome, as (time, node, note).
std::vector<std::tuple<Time, std::uint32_t, std::string>> frames_of(const RecordedKafkaLog& r, v1::Frame::Outcome outcome) {
  std::vector<std::tuple<Time, std::uint32_t, std::string>> out;
  for (const auto& view : r.frames)
    if (view.frame.outcome() == outcome) out.emplace_back(view.time, view.frame.dst(), view.frame.note());
  return out;
}

TEST(EventLog, KeepsEveryInvariantAndCountsEachDuplicate) {
  const auto r = record_event_log();
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  EXPECT_GT(kafka_figure(r, "keyframes_checked"), 20u);
  std::uint64_t written_twice = 0;
  for (const char* app : {"app-1", "app-2", "app-3"}) written_twice += r.run.summary["nodes"][app].value("duplicates", std::uint64_t{0});
  EXPECT_GT(kafka_figure(r, "duplicates"), 0u);
  EXPECT_EQ(kafka_figure(r, "duplicates"), written_twice);  // each second processing met its row: 409
  EXPECT_EQ(kafka_figure(r, "records"), r.run.summary["requests"]["sent"].get<std::uint64_t>());
  // Generations: app-1 alone, app-2 joins, app-3 joins at 4 s, app-1's session expires.
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["groups"]["billing"]["generation"], 4);
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["groups"]["billing"]["lag"], 0);  // caught up and committed
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["groups"]["billing"]["lag_by_partition"].size(), 3u);
}

TEST(EventLog, OneCustomersOrdersStayInOnePartition) {
  const auto r = record_event_log();
  std::map<std::uint64_t, std::uint32_t> partition_of_customer;
  for (const auto& view : r.frames)
    if (view.frame.dst() == kKafka && view.frame.src() == kShop && view.frame.outcome() == v1::Frame::APPENDED) {
      const auto [at, fresh] = partition_of_customer.emplace(view.frame.id(), view.frame.partition());
      EXPECT_EQ(at->second, view.frame.partition()) << "customer " << view.frame.id();
    }
  EXPECT_EQ(partition_of_customer.size(), 50u);
}

TEST(EventLog, LagGrowsWhileADeadMembersSessionRunsOutThenCatchesUp) {
  const auto r = record_event_log();
  std::uint32_t before_crash = 0, while_dead = 0, caught_up = 0;
  Time expired_at = 0;
  for (const auto& view : r.frames) {
    if (view.frame.dst() != kKafka) continue;
    if (view.time > from_seconds(6) && view.time < from_seconds(8)) before_crash = std::max(before_crash, view.frame.queue());
    if (view.time > from_seconds(8) && !expired_at) while_dead = std::max(while_dead, view.frame.queue());
    if (view.time > from_seconds(13) && view.time < from_seconds(15)) caught_up = std::max(caught_up, view.frame.queue());
    if (view.frame.outcome() == v1::Frame::REBALANCING && view.frame.note().find("session expired") != std::string::npos)
      expired_at = view.time;
  }
  EXPECT_GE(expired_at, from_seconds(10.5));  // app-1's last heartbeat before 8 s, plus 3 s
  EXPECT_LE(expired_at, from_seconds(11.5));
  // Its partition piles up (about 33 records/s for 2.75 s), then its new owner works it off.
  EXPECT_GT(while_dead, 80u);
  EXPECT_GT(while_dead, 4 * before_crash);
  EXPECT_LT(caught_up, 2 * before_crash + 10);
}

TEST(EventLog, AcksDecideWhenTheProducerHearsBack) {
  const auto all = record_event_log({"shop.client.publish.acks=ALL"});
  const auto leader = record_event_log({"shop.client.publish.acks=LEADER"});
  const auto none = record_event_log({"shop.client.publish.acks=NONE"});
  const double p50_all = all.run.summary["latency_ms"]["p50"].get<double>();
  const double p50_leader = leader.run.summary["latency_ms"]["p50"].get<double>();
  // acks=all waits for a follower's next fetch: a round trip of 2 ms links on top of acks=1.
  EXPECT_GT(p50_all, p50_leader + 3.5);
  EXPECT_NEAR(p50_leader, 2.2, 0.3);  // 1 ms there, 0.2 ms to append, 1 ms back
  EXPECT_EQ(none.run.summary["requests"]["by_status"]["202"], none.run.summary["requests"]["sent"]);
  EXPECT_TRUE(none.report.ok()) << format_report(none.report);
}

TEST(EventLog, ACutOffFollowerLeavesTheInSyncSetAndAcksAllGoesOn) {
  const auto r = record_event_log({}, R"(events { at_s: 2 node: "replica-1" fault { link { to: "kafka" partition: true } } })");
  Time left_at = 0;
  for (const auto& view : r.frames)
    if (view.frame.outcome() == v1::Frame::HEALTH_CHANGED && view.frame.note().rfind("replica-1 fell behind", 0) == 0 && !left_at)
      left_at = view.time;
  EXPECT_GE(left_at, from_seconds(3));  // behind for over replica_lag_ms
  EXPECT_LE(left_at, from_seconds(3.5));
  EXPECT_EQ(r.run.summary["requests"]["completed"], r.run.summary["requests"]["sent"]);  // every order answered 201
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["partitions"]["orders/0"]["in_sync"], 2);  // the leader and replica-2
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

TEST(EventLog, ALeaderThatRestartsKeepsItsLogAndCommittedOffsets) {
  const auto r = record_event_log({}, R"(events { at_s: 5 node: "kafka" fault { crash: true } }
events { at_s: 6 node: "kafka" fault { restart: true } }
)");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto& summary = r.run.summary;
  // Orders sent while it was down were refused (503); every other one is in the log.
  const auto refused = summary["requests"]["by_status"].value("503", std::uint64_t{0});
  EXPECT_GT(refused, 50u);
  EXPECT_EQ(kafka_figure(r, "records"), summary["requests"]["sent"].get<std::uint64_t>() - refused);
  EXPECT_EQ(summary["nodes"]["kafka"]["groups"]["billing"]["lag"], 0);  // the members rejoined and caught up
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

TEST(EventLog, AMemberPausedPastItsSessionDuplicatesOnlyWhatTheCheckExplains) {
  // Paused, it finishes a record after the group gave its partition away, before it hears so.
  const auto r = record_event_log({}, R"(events { at_s: 5 node: "app-3" fault { pause_s: 4 } })");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  EXPECT_GT(kafka_figure(r, "duplicates"), 0u);
}

TEST(EventLog, AnUnknownTopicIsAnErrorAtItsLine) {
  auto text = test::builtin_text("event_log");
  text.replace(text.find("topic: \"orders\" key"), 15, "topic: \"ordrs\"");
  try {
    parse_scenario(text, "typo.textproto");
    ADD_FAILURE() << "accepted a topic the broker does not have";
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find("typo.textproto:19:22: client.publish.topic: 'kafka' has no topic 'ordrs'"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace flowframe

namespace flowframe {
namespace {

// log_failover: director, shop, kafka, replica-1, replica-2, app-1, app-2, db.
constexpr std::uint32_t kReplica1 = 3;

TEST(LogFailover, TwoElectionsAndNoAcknowledgedOrderLost) {
  const auto r = record_builtin("log_failover");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto sent = r.run.summary["requests"]["sent"].get<std::uint64_t>();
  EXPECT_EQ(r.run.summary["requests"]["completed"].get<std::uint64_t>(), sent);  // the retries got every order in
  EXPECT_EQ(kafka_figure(r, "acked_all"), sent);
  EXPECT_EQ(kafka_figure(r, "acked_all_lost"), 0u);
  EXPECT_EQ(kafka_figure(r, "elections"), 2u);
  // kafka crashes at 4 s: replica-1 (first in the scenario) asks 2 s after it last heard kafka.
  // replica-1 is cut off at 13 s and gives the lead up 2 s later; kafka wins epoch 2 once replica-2
  // grants it (kafka's own vote and replica-2's make a majority of three).
  const auto elected = frames_of(r, v1::Frame::ELECTED);
  ASSERT_EQ(elected.size(), 2u);
  EXPECT_EQ(std::get<1>(elected[0]), kReplica1);
  EXPECT_GE(std::get<0>(elected[0]), from_seconds(6));
  EXPECT_LE(std::get<0>(elected[0]), from_seconds(6.1));
  EXPECT_NE(std::get<2>(elected[0]).find("leads epoch 1"), std::string::npos) << std::get<2>(elected[0]);
  EXPECT_EQ(std::get<1>(elected[1]), kKafka);
  EXPECT_GE(std::get<0>(elected[1]), from_seconds(15));
  EXPECT_LE(std::get<0>(elected[1]), from_seconds(15.1));
  EXPECT_NE(std::get<2>(elected[1]).find("leads epoch 2"), std::string::npos) << std::get<2>(elected[1]);
  // Healed at 18 s, replica-1 learns of epoch 2 and drops what it appended alone, which no
  // producer was told was written (it had refused them: too few replicas in sync).
  const auto truncated = frames_of(r, v1::Frame::TRUNCATED);
  ASSERT_FALSE(truncated.empty());
  EXPECT_EQ(std::get<1>(truncated.back()), kReplica1);
  EXPECT_GE(std::get<0>(truncated.back()), from_seconds(18));
  EXPECT_GT(kafka_figure(r, "truncated"), 0u);
  bool refused_alone = false;
  for (const auto& view : r.frames)
    refused_alone |= view.frame.dst() == kReplica1 && view.frame.outcome() == v1::Frame::REJECTED_DOWN &&
                     view.frame.note().find("503 not enough replicas") != std::string::npos;
  EXPECT_TRUE(refused_alone);
  // The group carries on at the last leader from the commits it had copied.
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["groups"]["billing"]["lag"], 0);
  EXPECT_EQ(r.run.summary["nodes"]["kafka"]["groups"]["billing"]["members"], 2);
}

TEST(LogFailover, WithOneReplicaEnoughACutOffLeaderAcknowledgesOrdersThatAreLost) {
  // min_insync_replicas 1: replica-1, cut off, drops the others from its in-sync set and answers
  // acks=all alone; those orders are truncated when it follows the new leader. The check says so.
  const auto r = record_builtin("log_failover", {"kafka.log_broker.min_insync_replicas=1"});
  EXPECT_FALSE(r.report.ok());
  EXPECT_GT(kafka_figure(r, "acked_all_lost"), 20u);
  const auto& durable = r.report.invariants.front();
  EXPECT_FALSE(durable.holds);
  EXPECT_NE(durable.detail.find("lost shop#"), std::string::npos) << durable.detail;
}

TEST(LogFailover, AcksOneLosesWhatItsLeaderHadAloneAndTheCheckCountsIt) {
  const auto r = record_builtin("log_failover", {"shop.client.publish.acks=LEADER", "kafka.log_broker.min_insync_replicas=1"});
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);  // nothing was promised with acks=all
  EXPECT_GT(kafka_figure(r, "acked_one_lost"), 20u);
  EXPECT_EQ(kafka_figure(r, "acked_one_lost"), kafka_figure(r, "truncated") - kafka_figure(r, "acked_all"));
}

TEST(LogFailover, ALeaderLostRightAfterItsElectionIsFollowedByTheMostUpToDateReplica) {
  // kafka leads epoch 2 from 15 s and dies at 15.15 s, just as the cut-off replica-1 comes back with
  // more records, all of epoch 1, appended alone. replica-2 holds kafka's acknowledged epoch-2
  // records: it must not vote for replica-1, and it wins.
  const auto r = record_builtin("log_failover", {}, R"(events { at_s: 15.15 node: "kafka" fault { crash: true } })");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto elected = frames_of(r, v1::Frame::ELECTED);
  ASSERT_EQ(elected.size(), 3u);
  EXPECT_EQ(std::get<1>(elected[2]), 4u);  // replica-2
  bool refused_less_up_to_date = false;
  for (const auto& view : r.frames)
    refused_less_up_to_date |= view.frame.dst() == 4 && view.frame.note().find("refused, its log is more up to date") != std::string::npos;
  EXPECT_TRUE(refused_less_up_to_date);
}

TEST(LogFailover, TwoReplicasLeftElectTheMoreUpToDateOnceTheyMeetAgain) {
  // replica-2 dies at 10 s; from 13 s to 18 s kafka and replica-1 cannot reach each other, so neither
  // has a majority. Once healed, the less up-to-date one asks first and is refused; the other asks at
  // once for a later epoch and wins.
  const auto r = record_builtin("log_failover", {}, R"(events { at_s: 10 node: "replica-2" fault { crash: true } })");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto elected = frames_of(r, v1::Frame::ELECTED);
  ASSERT_EQ(elected.size(), 2u);
  EXPECT_GE(std::get<0>(elected[1]), from_seconds(18));
  EXPECT_LE(std::get<0>(elected[1]), from_seconds(19.5));
  EXPECT_FALSE(r.run.summary.contains("cut_short"));  // it settles: no election loop until the drain limit
}

TEST(EventLog, ALeaderBackBeforeItsFollowersNoticeLeadsOnInTheSameEpoch) {
  const auto r = record_event_log({}, R"(events { at_s: 5 node: "kafka" fault { crash: true } }
events { at_s: 6 node: "kafka" fault { restart: true } }
)");
  EXPECT_TRUE(r.report.ok()) << format_report(r.report);
  const auto elected = frames_of(r, v1::Frame::ELECTED);
  ASSERT_EQ(elected.size(), 1u);
  EXPECT_EQ(std::get<1>(elected[0]), kKafka);
  EXPECT_NE(std::get<2>(elected[0]).find("leads epoch 0 again"), std::string::npos) << std::get<2>(elected[0]);
  EXPECT_TRUE(frames_of(r, v1::Frame::TRUNCATED).empty());
}

TEST(EventLog, ReplicasThatCannotElectAreAnErrorAtTheirLine) {
  auto text = test::builtin_text("event_log");
  const auto expect_error = [](const std::string& text, const std::string& expected) { test::expect_refused(text, "cluster.textproto", expected); };
  auto unlinked = text;
  unlinked.erase(unlinked.find("links { from: \"replica-1\" to: \"replica-2\""), 66);
  expect_error(unlinked, "'replica-1' has no link to 'replica-2', another follower of 'kafka'");
  auto quick = text;
  quick.replace(quick.find("min_insync_replicas: 2"), 22, "leader_timeout_ms: 400");
  expect_error(quick, "log_broker.leader_timeout_ms: must be longer than fetch_wait_ms (500)");
  auto greedy = text;
  greedy.replace(greedy.find("min_insync_replicas: 2"), 22, "min_insync_replicas: 4");
  expect_error(greedy, "log_broker.min_insync_replicas: must be from 1 to the 3 replicas");
  auto own = text;
  own.replace(own.find("log_broker { follower_of: \"kafka\" }"), 35, "log_broker { follower_of: \"kafka\" fetch_wait_ms: 50 }");
  expect_error(own, "log_broker.fetch_wait_ms: a follower runs by its leader's settings: set it on 'kafka'");
}

}  // namespace
}  // namespace flowframe
