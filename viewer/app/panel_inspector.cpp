// The node inspector: the selected node's state at the current frame (stepping back shows the
// earlier state), and the log's health.
#include <fmt/format.h>

#include "viewer/app/viewer.hpp"

#include "runtime/framelog/frame_text.hpp"
#include "runtime/base/text.hpp"

namespace flowframe::viewer {
namespace {

void row(const char* name, const std::string& value) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextDisabled("%s", name);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(value.c_str());
}

bool begin_fields(const char* id) { return ImGui::BeginTable(id, 2, ImGuiTableFlags_SizingStretchProp); }

bool begin_grid(const char* id, std::initializer_list<const char*> columns, float height = 0) {
  if (!ImGui::BeginTable(id, static_cast<int>(columns.size()),
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_ScrollY |
                             ImGuiTableFlags_SizingStretchProp,
                         {0, height}))
    return false;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* column : columns) ImGui::TableSetupColumn(column);
  ImGui::TableHeadersRow();
  return true;
}

void cells(std::initializer_list<std::string> values) {
  ImGui::TableNextRow();
  for (const auto& value : values) {
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(value.c_str());
  }
}

std::string seconds(Time t) { return fmt::format("{:.2f}s", to_seconds(t)); }

void health(Viewer& viewer) {
  const auto health = viewer.model().health();
  if (health.problems.empty()) return;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(viewer.palette().warning));
  const bool open = ImGui::CollapsingHeader(
      fmt::format("{} Log health: {} problem{}", icon::warning, health.problems.size(), health.problems.size() == 1 ? "" : "s").c_str(),
      ImGuiTreeNodeFlags_DefaultOpen);
  ImGui::PopStyleColor();
  if (!open) return;
  ImGui::TextWrapped("Showing everything readable.");
  for (const auto& problem : health.problems) ImGui::BulletText("%s", problem.c_str());
  ImGui::Separator();
}

// Changes to the selected node in the running simulation; each becomes a control frame.
void steer(Viewer& viewer, const v1::NodeInfo& info, const v1::NodeState& state) {
  auto set = [&](const std::string& field, const std::string& value) {
    v1::ControlRequest request;
    request.set_node(info.id());
    request.mutable_set()->set_field(field);
    request.mutable_set()->set_value(value);
    viewer.send(request);
  };
  ImGui::Separator();
  ImGui::TextDisabled("change it in the running simulation");
  switch (info.kind()) {
    case v1::Node::SERVER: {
      static int capacity = 0;
      if (!ImGui::IsAnyItemActive()) capacity = static_cast<int>(state.server().capacity());
      ImGui::SetNextItemWidth(180);
      ImGui::SliderInt("capacity", &capacity, 0, std::max(8, 2 * static_cast<int>(state.server().capacity_before_fail() + state.server().capacity())));
      if (ImGui::IsItemDeactivatedAfterEdit()) set("capacity", std::to_string(capacity));
      ImGui::SameLine();
      v1::ControlRequest request;
      request.set_node(info.id());
      if (ImGui::Button("fail")) request.set_fail(true), viewer.send(request);
      ImGui::SameLine();
      if (ImGui::Button("restore")) request.set_restore(true), viewer.send(request);
      if (viewer.model().header().scenario().nodes_size() > 0) {
        // A cache-aside server's TTL for the keys it fills.
        for (const auto& node : viewer.model().header().scenario().nodes()) {
          if (node.id() != info.id() || !node.server().has_cache_aside()) continue;
          static float ttl = -1;
          if (!ImGui::IsAnyItemActive() || ttl < 0) ttl = static_cast<float>(node.server().cache_aside().ttl_s());
          ImGui::SetNextItemWidth(180);
          ImGui::SliderFloat("cache TTL (s)", &ttl, 0.0f, 120.0f, "%.1f");
          if (ImGui::IsItemDeactivatedAfterEdit()) set("cache_aside.ttl_s", fmt::format("{:g}", ttl));
        }
      }
      break;
    }
    case v1::Node::API_GATEWAY: {
      for (const char* which : {"per_client", "global"}) {
        static float rate[2] = {-1, -1}, burst[2] = {-1, -1};
        const int k = std::string(which) == "global";
        for (const auto& bucket : state.api_gateway().buckets()) {
          if ((bucket.owner() == "global") != (k == 1) || ImGui::IsAnyItemActive()) continue;
          rate[k] = static_cast<float>(bucket.rate());
          burst[k] = static_cast<float>(bucket.burst());
        }
        if (rate[k] < 0) continue;  // no such limit in this scenario
        ImGui::SetNextItemWidth(140);
        ImGui::SliderFloat(fmt::format("{} rate/s", which).c_str(), &rate[k], 0.1f, 100.0f, "%.1f");
        if (ImGui::IsItemDeactivatedAfterEdit()) set(std::string(which) + ".rate", fmt::format("{:g}", rate[k]));
        ImGui::SameLine();
        ImGui::SetNextItemWidth(120);
        ImGui::SliderFloat(fmt::format("{} burst", which).c_str(), &burst[k], 1.0f, 100.0f, "%.0f");
        if (ImGui::IsItemDeactivatedAfterEdit()) set(std::string(which) + ".burst", fmt::format("{:g}", std::round(burst[k])));
      }
      break;
    }
    case v1::Node::LOAD_BALANCER: {
      static const auto names = [] {
        std::vector<std::string> all;
        const auto* strategies = v1::LoadBalancerParams::Strategy_descriptor();
        for (int i = 0; i < strategies->value_count(); ++i) all.push_back(lowercase(strategies->value(i)->name()));
        return all;
      }();
      int strategy = state.load_balancer().strategy();
      ImGui::SetNextItemWidth(220);
      const auto item = [](void* list, int i, const char** out) {
        *out = (*static_cast<const std::vector<std::string>*>(list))[static_cast<std::size_t>(i)].c_str();
        return true;
      };
      if (ImGui::Combo("strategy", &strategy, item, const_cast<std::vector<std::string>*>(&names), static_cast<int>(names.size())))
        set("strategy", names[static_cast<std::size_t>(strategy)]);
      break;
    }
    case v1::Node::DATABASE: {
      static int connections = 0;
      if (!ImGui::IsAnyItemActive()) connections = static_cast<int>(state.database().max_connections());
      ImGui::SetNextItemWidth(180);
      ImGui::SliderInt("connections", &connections, 1, 64);
      if (ImGui::IsItemDeactivatedAfterEdit()) set("max_connections", std::to_string(connections));
      break;
    }
    case v1::Node::CLIENT: {
      v1::ControlRequest request;
      request.set_node(info.group().empty() ? info.id() : info.group());
      request.set_burst(10);
      if (ImGui::Button("fire a burst of 10 requests from every client")) viewer.send(request);
      break;
    }
    default:
      ImGui::TextDisabled("(nothing to change here yet)");
  }
}

}  // namespace

void draw_inspector(Viewer& viewer, ImVec2 pos, ImVec2 size) {
  begin_panel("Inspector", pos, size);
  health(viewer);
  const auto& header = viewer.model().header();
  const view::World* world = viewer.playback().world();
  if (!viewer.selected_node || !world) {
    ImGui::TextWrapped("Click a node on the canvas to see its state at the current frame.");
    if (auto current = viewer.model().frame(viewer.playback().frame(), false)) {
      ImGui::Spacing();
      ImGui::TextDisabled("Frame %llu", static_cast<unsigned long long>(current->index));
      ImGui::TextWrapped("%s", viewer.text().line(*current).c_str() + 10);
    }
    const auto& explanation = header.scenario().explanation();
    if (!explanation.empty()) {
      ImGui::Spacing();
      ImGui::Separator();
      ImGui::TextWrapped("%s", explanation.c_str());
    }
    ImGui::End();
    return;
  }
  const auto n = *viewer.selected_node;
  const auto& info = header.nodes(static_cast<int>(n));
  const auto& node = world->nodes[n];
  const auto& s = node.state;
  const Time now = viewer.playback().time();
  ImGui::PushFont(viewer.fonts().title);
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(viewer.palette().kind(info.kind())), "%s", kind_icon(info.kind()));
  ImGui::SameLine();
  ImGui::Text("%s", info.id().c_str());
  ImGui::PopFont();
  ImGui::SameLine();
  ImGui::TextDisabled("%s%s", lowercase(v1::Node::Kind_Name(info.kind())).c_str(),
                      info.group().empty() ? "" : (" · group " + info.group()).c_str());
  ImGui::TextDisabled("at frame %llu, %s; details as of frame %llu", static_cast<unsigned long long>(world->frame),
                      format_time(now).c_str(), static_cast<unsigned long long>(node.state_frame));
  ImGui::Separator();
  if (begin_fields("fields")) {
    row("in progress", std::to_string(node.load));
    row("waiting", std::to_string(node.queue));
    row("handled", std::to_string(s.handled()));
    row("rejected", std::to_string(s.rejected()));
    switch (info.kind()) {
      case v1::Node::SERVER: {
        const auto& server = s.server();
        row("capacity", server.capacity() ? std::to_string(server.capacity()) : "0 (down)");
        row("queue limit", std::to_string(server.queue_limit()));
        row("longest queue", std::to_string(server.max_queue()));
        if (const auto busy = utilization(server, node.load, now)) row("utilisation", fmt::format("{:.0f}%", 100 * *busy));
        break;
      }
      case v1::Node::CLIENT: {
        const auto& client = s.client();
        row("address", client.ip());
        row("sent", std::to_string(client.sent()));
        row("completed", std::to_string(client.completed()));
        row("failed", std::to_string(client.failed()));
        break;
      }
      case v1::Node::LOAD_BALANCER:
        row("strategy", lowercase(v1::LoadBalancerParams::Strategy_Name(s.load_balancer().strategy())));
        break;
      case v1::Node::CACHE: {
        const auto& cache = s.cache();
        row("keys", fmt::format("{}{}", cache.keys_size(), cache.max_entries() ? fmt::format(" of {}", cache.max_entries()) : ""));
        row("hits / misses", fmt::format("{} / {}", cache.hits(), cache.misses()));
        row("evictions", std::to_string(cache.evictions()));
        row("expirations", std::to_string(cache.expirations()));
        break;
      }
      case v1::Node::DATABASE: {
        const auto& database = s.database();
        row("pool", fmt::format("{} of {} in use, {} waiting", database.pool_in_use(), database.max_connections(), database.pool_waiting()));
        row("queries", std::to_string(database.queries()));
        for (const auto& table : database.tables()) row(("table " + table.name()).c_str(), fmt::format("{} rows", table.rows()));
        break;
      }
      case v1::Node::OBJECT_STORAGE:
        row("accepted / rejected", fmt::format("{} / {}", s.object_storage().accepted(), s.object_storage().rejected()));
        break;
      default:
        break;
    }
    ImGui::EndTable();
  }
  if (viewer.live() && !viewer.run_ended()) steer(viewer, info, s);
  ImGui::Spacing();
  auto node_name = [&](std::uint32_t index) { return viewer.text().node(index); };
  const float table_height = std::max(120.0f, ImGui::GetContentRegionAvail().y - 8);
  switch (info.kind()) {
    case v1::Node::LOAD_BALANCER:
      if (begin_grid("backends", {"backend", "health", "weight", "sent"}, table_height)) {
        for (const auto& b : s.load_balancer().backends())
          cells({node_name(b.node()), b.healthy() ? "up" : "DOWN", std::to_string(b.weight()), std::to_string(b.sent())});
        ImGui::EndTable();
      }
      break;
    case v1::Node::CACHE:
      if (begin_grid("keys", {"key", "value", "ttl", "last used"}, table_height)) {
        for (const auto& key : s.cache().keys())
          cells({key.key(), key.value(), key.expires_ns() ? (key.expires_ns() > now ? seconds(key.expires_ns() - now) : "expired") : "none",
                 seconds(now - key.last_access_ns()) + " ago"});
        ImGui::EndTable();
      }
      break;
    case v1::Node::DATABASE:
      if (begin_grid("touched", {"row", "op", "value", "when"}, table_height)) {
        for (const auto& touched : s.database().touched())
          cells({fmt::format("{}/{}", touched.table(), touched.id()), touched.op(), touched.value(), format_time(touched.at_ns())});
        ImGui::EndTable();
      }
      break;
    case v1::Node::API_GATEWAY: {
      const auto& gateway = s.api_gateway();
      if (begin_grid("routes", {"route", "pool", "servers up"}, 0)) {
        for (const auto& route : gateway.routes()) {
          std::string up;
          for (const auto& pool : gateway.pools())
            if (pool.name() == route.pool())
              for (const auto& b : pool.backends()) up += (b.healthy() ? "" : "!") + node_name(b.node()) + " ";
          cells({route.prefix(), route.pool(), up});
        }
        ImGui::EndTable();
      }
      if (begin_grid("buckets", {"rate limit", "tokens now", "burst"}, std::max(80.0f, ImGui::GetContentRegionAvail().y - 8))) {
        for (const auto& bucket : gateway.buckets()) {
          const double tokens = std::min(bucket.burst(), bucket.tokens() + bucket.rate() * to_seconds(now - bucket.at_ns()));
          cells({bucket.owner(), fmt::format("{:.2f}", tokens), fmt::format("{:g} (+{:g}/s)", bucket.burst(), bucket.rate())});
        }
        ImGui::EndTable();
      }
      break;
    }
    case v1::Node::TOKEN_SERVICE:
      if (begin_grid("issued", {"token for", "expires in", "signature"}, table_height)) {
        for (const auto& issued : s.token_service().issued())
          cells({issued.token().bucket() + "/" + issued.token().key(),
                 issued.token().expires_ns() > now ? seconds(issued.token().expires_ns() - now) : "expired",
                 issued.token().signature().substr(0, 12) + "…"});
        ImGui::EndTable();
      }
      break;
    case v1::Node::OBJECT_STORAGE:
      if (begin_grid("objects", {"object", "size", "uploaded"}, table_height / 2)) {
        for (const auto& object : s.object_storage().objects())
          cells({object.bucket() + "/" + object.key(), fmt::format("{:.1f} MB", object.size() / 1e6), format_time(object.uploaded_ns())});
        ImGui::EndTable();
      }
      if (begin_grid("checks", {"token check", "verdict"}, std::max(80.0f, ImGui::GetContentRegionAvail().y - 8))) {
        for (const auto& check : s.object_storage().checks()) cells({check.key(), check.verdict()});
        ImGui::EndTable();
      }
      break;
    default:
      break;
  }
  ImGui::End();
}

}  // namespace flowframe::viewer
