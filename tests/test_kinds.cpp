// Every component kind in scenario.proto is registered once, with its description and component,
// so no part of FlowFrame (loader, --set, live control, summary, factory) can miss one.
#include <gtest/gtest.h>

#include "runtime/engine/kinds.hpp"
#include "runtime/scenario/kind.hpp"
#include "runtime/scenario/scenario.hpp"

namespace flowframe {
namespace {

std::vector<v1::Node::Kind> written_kinds() {
  std::vector<v1::Node::Kind> kinds;
  const auto* type = v1::Node::Kind_descriptor();
  for (int i = 0; i < type->value_count(); ++i) {
    const auto kind = static_cast<v1::Node::Kind>(type->value(i)->number());
    if (kind != v1::Node::KIND_UNSPECIFIED && kind != v1::Node::DIRECTOR) kinds.push_back(kind);
  }
  return kinds;
}

TEST(Kinds, EveryKindIsRegisteredWithItsParametersAndComponent) {
  for (const auto kind : written_kinds()) {
    SCOPED_TRACE(v1::Node::Kind_Name(kind));
    const auto* description = find_kind(kind);
    ASSERT_NE(description, nullptr) << "no module registered this kind (FLOWFRAME_KIND)";
    EXPECT_TRUE(has_component(kind));
    // Its parameters are the Node field named after it, and defaults fill them in.
    const auto* field = v1::Node::descriptor()->FindFieldByName(std::string(description->name));
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->containing_oneof(), v1::Node::descriptor()->FindOneofByName("params"));
    v1::Node node;
    node.set_id("x");
    node.set_kind(kind);
    description->defaults(node);
    const auto* params = &node_params(node);
    EXPECT_EQ(params, &node.GetReflection()->GetMessage(node, field));
    for (const auto& settable : description->settable) {
      const std::string name(settable.back() == '.' ? settable.substr(0, settable.size() - 1) : settable);
      EXPECT_TRUE(runtime_settable(kind, settable.back() == '.' ? name + ".mean_ms" : name)) << name;
    }
  }
  EXPECT_EQ(kind_descriptions().size(), written_kinds().size()) << "a kind registered outside Node.Kind";
  EXPECT_EQ(find_kind(v1::Node::DIRECTOR), nullptr);
}

TEST(Kinds, AKindWithoutRegistrationIsAClearError) {
  v1::Node node;
  node.set_id("ghost");
  EXPECT_THROW(node_params(node), std::invalid_argument);
  EXPECT_FALSE(runtime_settable(v1::Node::KIND_UNSPECIFIED, "capacity"));
  try {
    parse_scenario("nodes { id: \"a\" }", "s.textproto");
    FAIL();
  } catch (const ScenarioError& error) {
    EXPECT_NE(std::string(error.what()).find("CLIENT, LOAD_BALANCER, SERVER"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace flowframe
