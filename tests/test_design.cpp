// The sandbox's editor model, share links and concept pages.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "runtime/learn/page.hpp"
#include "runtime/learn/share_link.hpp"
#include "support.hpp"
#include "viewer/model/design.hpp"

namespace flowframe {
namespace {

using google::protobuf::util::MessageDifferencer;
using view::Design;

TEST(Design, StarterRunsAndEveryEditUndoesAndRedoes) {
  Design design;
  EXPECT_TRUE(design.problems().empty()) << design.problems().front();
  const auto start = design.scenario();
  std::string cache;
  EXPECT_EQ(design.add_node(v1::Node::CACHE, 8, 3, &cache), "");
  EXPECT_EQ(cache, "cache");
  EXPECT_EQ(design.connect("server", cache, 0.5), "");
  EXPECT_NE(design.connect("server", cache), "");        // once is enough
  EXPECT_NE(design.connect(cache, cache), "");           // not to itself
  EXPECT_EQ(design.move_node(cache, 9, 3), "");
  EXPECT_EQ(design.move_node(cache, 9.5, 3.5, /*merge=*/true), "");  // one drag, one step
  EXPECT_EQ(design.set("server", "capacity", "4"), "");
  EXPECT_NE(design.set("server", "capacity", "-4"), "");  // refused, nothing changed
  std::string copy;
  EXPECT_EQ(design.duplicate("server", &copy), "");
  EXPECT_EQ(design.set_workload("rate", "50"), "");
  EXPECT_EQ(design.set("lb", "id", "balancer"), "");      // a rename reaches the links
  EXPECT_EQ(design.disconnect("server", cache), "");
  EXPECT_EQ(design.remove_node(cache), "");
  EXPECT_TRUE(design.problems().empty()) << design.problems().front();
  const auto edited = design.scenario();
  EXPECT_EQ(edited.links(0).to(), "balancer");
  EXPECT_EQ(edited.nodes(2).server().capacity(), 4u);
  EXPECT_EQ(edited.workload().rate(), 50);
  int steps = 0;
  while (design.undo()) ++steps;
  EXPECT_EQ(steps, 9);  // add, connect, move (dragged), set, duplicate, workload, rename, disconnect, remove
  EXPECT_TRUE(MessageDifferencer::Equals(design.scenario(), start));
  while (design.redo()) {
  }
  EXPECT_TRUE(MessageDifferencer::Equals(design.scenario(), edited));
}

TEST(Design, ValidationErrorsPointAtTheNode) {
  Design design;
  std::string cache;
  design.add_node(v1::Node::SERVER, 5, 5, &cache);  // a server without links or clients is fine...
  design.set("server", "service_time.mean_ms", "0");  // ...but not one that takes no time
  const auto by_node = design.problems_by_node();
  ASSERT_FALSE(design.problems().empty());
  EXPECT_NE(design.problems()[0].find("service_time.mean_ms: must be > 0"), std::string::npos) << design.problems()[0];
  ASSERT_EQ(by_node.size(), 1u);  // found by the line it points at
  EXPECT_EQ(by_node.begin()->first, "server");
  EXPECT_EQ(design.remove_node("nobody"), "no node 'nobody'");
  EXPECT_TRUE(design.undo());  // the checks follow the design back and forth
  EXPECT_TRUE(design.problems().empty()) << design.problems().front();
  EXPECT_TRUE(design.redo());
  EXPECT_EQ(design.problems_of("server").size(), 1u);
}

TEST(Design, ParameterTextIsCheckedAsTypedWithoutChangingTheDesign) {
  Design design;
  const auto before = design.scenario();
  EXPECT_TRUE(design.check_params_text("server", "capacity: 3 service_time { mean_ms: 5 }").empty());
  const auto unparsable = design.check_params_text("server", "capacity: three");
  ASSERT_EQ(unparsable.size(), 1u);
  EXPECT_EQ(unparsable[0].rfind("line 1:", 0), 0u) << unparsable[0];
  const auto invalid = design.check_params_text("server", "capacity: 2 service_time { mean_ms: -1 }");
  ASSERT_FALSE(invalid.empty());
  EXPECT_NE(invalid[0].find("service_time.mean_ms"), std::string::npos) << invalid[0];
  EXPECT_TRUE(MessageDifferencer::Equals(design.scenario(), before));
  EXPECT_FALSE(design.can_undo());
}

TEST(Design, RequestMixEditsAsLines) {
  Design design;
  EXPECT_EQ(design.mix_text(), "");
  EXPECT_EQ(design.set_mix_text("GET /users/{id} 3 keys=1000 zipf=1.1\n\nPOST /orders 1\n"), "");
  const auto& paths = design.scenario().workload().paths();
  ASSERT_EQ(paths.size(), 2);
  EXPECT_EQ(paths[0].method(), "");
  EXPECT_EQ(paths[0].path(), "/users/{id}");
  EXPECT_EQ(paths[0].weight(), 3u);
  EXPECT_EQ(paths[0].keys(), 1000u);
  EXPECT_DOUBLE_EQ(paths[0].zipf_s(), 1.1);
  EXPECT_EQ(paths[1].method(), "POST");
  EXPECT_EQ(design.mix_text(), "GET /users/{id} 3 keys=1000 zipf=1.1\nPOST /orders 1\n");
  EXPECT_TRUE(design.problems().empty()) << design.problems().front();
  EXPECT_EQ(design.set_mix_text("GET /a 1\nPUT /b"), "request mix line 2: expected METHOD PATH WEIGHT, e.g. GET /users/{id} 3");
  EXPECT_EQ(design.set_mix_text("GET /a x"), "request mix line 1: field 'weight' expects a whole number >= 0, got 'x'");
  EXPECT_EQ(design.set_mix_text("GET /a -1"), "request mix line 1: field 'weight' expects a whole number >= 0, got '-1'");
  EXPECT_EQ(design.set_mix_text("GET /a 1 hot=2"), "request mix line 1: unknown option 'hot=2' (keys=N or zipf=S)");
  EXPECT_EQ(design.scenario().workload().paths_size(), 2);  // refused edits changed nothing
  EXPECT_TRUE(design.undo());
  EXPECT_EQ(design.scenario().workload().paths_size(), 0);
}

TEST(Design, WorkloadPanelFieldsReachTheScenario) {
  Design design;
  EXPECT_EQ(design.set_workload("arrival", "closed"), "");
  EXPECT_EQ(design.set_workload("users", "50"), "");
  EXPECT_EQ(design.set_workload("think_time.mean_ms", "200"), "");
  EXPECT_EQ(design.scenario().workload().arrival(), v1::Workload::CLOSED);
  EXPECT_EQ(design.scenario().workload().users(), 50u);
  EXPECT_EQ(design.scenario().workload().think_time().mean_ms(), 200);
  EXPECT_EQ(design.set_workload("arrival", "on_off"), "");
  EXPECT_EQ(design.set_workload("on_s", "0.5"), "");
  EXPECT_EQ(design.set_workload("off_s", "1.5"), "");
  EXPECT_EQ(design.scenario().workload().off_s(), 1.5);
  EXPECT_NE(design.set_workload("users", "many"), "");
}

TEST(Design, EveryBuiltinScenarioRoundTripsThroughTheEditor) {
  for (const auto& builtin : builtin_scenarios()) {
    const auto design = Design::from_text(builtin.text, builtin.name);
    const auto again = Design::from_text(design.text(), builtin.name);
    EXPECT_TRUE(MessageDifferencer::Equals(design.scenario(), again.scenario())) << builtin.name;
    EXPECT_TRUE(design.problems().empty()) << builtin.name;
    auto mixed = design;  // the request mix survives its text form
    EXPECT_EQ(mixed.set_mix_text(design.mix_text()), "") << builtin.name;
    EXPECT_TRUE(MessageDifferencer::Equals(mixed.scenario(), design.scenario())) << builtin.name;
    // And through a share link, exactly.
    EXPECT_TRUE(MessageDifferencer::Equals(decode_link(encode_link(design.scenario())), design.scenario())) << builtin.name;
  }
  EXPECT_THROW(Design::from_text("nodes { id: ", "broken"), ScenarioError);
}

TEST(ShareLink, DamagedLinksSayWhy) {
  const auto link = encode_link(Design::starter());
  EXPECT_EQ(link.rfind("flowframe:", 0), 0u);
  EXPECT_EQ(link.find_first_of("+/="), std::string::npos);  // URL-safe
  auto expect_refused = [](const std::string& bad, const std::string& why) {
    try {
      decode_link(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(why), std::string::npos) << error.what();
    }
  };
  expect_refused("https://example.com", "not a FlowFrame link");
  expect_refused(link.substr(0, link.size() - 7), "cut short");
  auto tampered = link;
  tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
  expect_refused(tampered, "damaged");
  expect_refused(link + "!", "characters a FlowFrame link never has");
  expect_refused("flowframe:AA", "cut short");
}

TEST(Pages, EveryTryLineNamesNodesAndFieldsOfItsScenario) {
  int pages = 0, actions = 0;
  for (const auto& builtin : builtin_scenarios()) {
    if (builtin.page.empty()) continue;
    ++pages;
    const auto page = parse_page(builtin.page);
    EXPECT_FALSE(page.title.empty()) << builtin.name;
    const auto problems = check_page(page, builtin.name + ".page", parse_scenario(builtin.text, builtin.name));
    EXPECT_TRUE(problems.empty()) << problems.front();
    for (const auto& block : page.blocks) actions += block.kind == PageBlock::Kind::action;
  }
  EXPECT_EQ(pages, 16);  // load balancers, failover, cache-aside, API gateways, valet key, health checks, retry storms, breakers, bulkheads, work queues, event logs, log failover, both kinds of saga, CDN, multi-region
  EXPECT_GT(actions, 8);
}

TEST(Pages, MarkupAndBadTryLines) {
  const auto page = parse_page("# Title\n\nA **bold** word and `code`.\nSame paragraph.\n\n- item one\n```\nx = 1\n```\n"
                               "[try: Fail it | fail server-9]\n[try: Nonsense | explode now]\n");
  ASSERT_EQ(page.blocks.size(), 6u);
  EXPECT_EQ(page.title, "Title");
  const auto& paragraph = page.blocks[1];
  EXPECT_EQ(paragraph.spans.size(), 7u);
  EXPECT_TRUE(paragraph.spans[1].bold);
  EXPECT_TRUE(paragraph.spans[3].code);
  EXPECT_EQ(page.blocks[2].kind, PageBlock::Kind::item);
  EXPECT_EQ(page.blocks[3].text, "x = 1");
  EXPECT_EQ(page.blocks[4].commands, (std::vector<std::vector<std::string>>{{"fail", "server-9"}}));
  const auto problems = check_page(page, "t.page", load_scenario("load_balancing"));
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0], "t.page:10: no node 'server-9' in load_balancing");
  EXPECT_NE(problems[1].find("t.page:11: unknown control 'explode'"), std::string::npos) << problems[1];
}

}  // namespace
}  // namespace flowframe
