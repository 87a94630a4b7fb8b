#include "runtime/learn/page.hpp"

#include <sstream>

#include "runtime/live/live.hpp"
#include "runtime/scenario/scenario.hpp"
#include "runtime/scenario/settings.hpp"

namespace flowframe {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// **bold** and `code` inside a line.
std::vector<PageSpan> spans_of(const std::string& text) {
  std::vector<PageSpan> spans;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto bold = text.find("**", at), code = text.find('`', at);
    const auto next = std::min(bold, code);
    if (next == std::string::npos) {
      spans.push_back({text.substr(at)});
      break;
    }
    if (next > at) spans.push_back({text.substr(at, next - at)});
    const bool is_bold = next == bold;
    const std::size_t open = is_bold ? 2 : 1;
    const auto close = text.find(is_bold ? "**" : "`", next + open);
    if (close == std::string::npos) {  // unclosed: plain text
      spans.push_back({text.substr(next)});
      break;
    }
    spans.push_back({text.substr(next + open, close - next - open), is_bold, !is_bold});
    at = close + open;
  }
  return spans;
}

}  // namespace

Page parse_page(const std::string& text) {
  Page page;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  PageBlock paragraph;
  auto flush = [&] {
    if (!paragraph.spans.empty()) page.blocks.push_back(paragraph);
    paragraph = PageBlock{};
  };
  bool in_code = false;
  PageBlock code;
  while (std::getline(in, raw)) {
    ++number;
    const auto line = trim(raw);
    if (line.rfind("```", 0) == 0) {
      if (in_code) {
        page.blocks.push_back(code);
      } else {
        flush();
        code = PageBlock{PageBlock::Kind::code};
        code.line = number;
      }
      in_code = !in_code;
      continue;
    }
    if (in_code) {
      code.text += (code.text.empty() ? "" : "\n") + raw;
      continue;
    }
    if (line.empty()) {
      flush();
      continue;
    }
    if (line.rfind("# ", 0) == 0 || line.rfind("## ", 0) == 0) {
      flush();
      PageBlock heading{line[1] == '#' ? PageBlock::Kind::section : PageBlock::Kind::title};
      heading.spans = spans_of(line.substr(line[1] == '#' ? 3 : 2));
      heading.line = number;
      if (heading.kind == PageBlock::Kind::title && page.title.empty()) page.title = line.substr(2);
      page.blocks.push_back(heading);
      continue;
    }
    if (line.rfind("- ", 0) == 0) {
      flush();
      PageBlock item{PageBlock::Kind::item};
      item.spans = spans_of(line.substr(2));
      item.line = number;
      page.blocks.push_back(item);
      continue;
    }
    if (line.rfind("[try:", 0) == 0 && line.back() == ']') {
      flush();
      PageBlock action{PageBlock::Kind::action};
      action.line = number;
      const auto body = line.substr(5, line.size() - 6);
      const auto bar = body.find('|');
      action.label = trim(body.substr(0, bar));
      std::istringstream controls(bar == std::string::npos ? "" : body.substr(bar + 1));
      for (std::string control; std::getline(controls, control, ';');) {
        std::istringstream words(control);
        auto& command = action.commands.emplace_back();
        for (std::string word; words >> word;) command.push_back(word);
      }
      if (action.commands.empty()) action.commands.emplace_back();
      page.blocks.push_back(action);
      continue;
    }
    if (paragraph.spans.empty()) paragraph.line = number;
    else paragraph.spans.push_back({" "});
    for (auto& span : spans_of(line)) paragraph.spans.push_back(std::move(span));
  }
  flush();
  if (in_code) page.blocks.push_back(code);
  return page;
}

std::vector<std::string> check_page(const Page& page, const std::string& page_name, const v1::Scenario& scenario) {
  std::vector<std::string> problems;
  if (page.title.empty()) problems.push_back(page_name + ":1: a page starts with a # title");
  auto check_command = [&](const std::vector<std::string>& command, const std::string& where) {
    v1::ControlRequest request;
    try {
      request = parse_control(command);
    } catch (const std::invalid_argument& error) {
      return problems.push_back(where + error.what());
    }
    if (request.node().empty()) return;  // pause, resume, step, speed
    const v1::Node* node = nullptr;
    for (const auto& candidate : scenario.nodes())
      if (candidate.id() == request.node() || candidate.group() == request.node()) node = &candidate;
    if (!node) return problems.push_back(where + "no node '" + request.node() + "' in " + scenario.name());
    if (auto error = check_control(request, *node); !error.empty()) problems.push_back(where + error);
    if (request.has_upload()) {
      const auto& script = scenario.workload().script();
      if (std::none_of(script.begin(), script.end(), [](const v1::ScriptedRequest& item) { return item.has_valet(); }))
        problems.push_back(where + "an upload needs a valet-key flow in the scenario's script");
    }
  };
  for (const auto& block : page.blocks) {
    if (block.kind != PageBlock::Kind::action) continue;
    const auto where = page_name + ":" + std::to_string(block.line) + ": ";
    if (block.label.empty()) problems.push_back(where + "a try line needs a label: [try: LABEL | CONTROL]");
    for (const auto& command : block.commands) check_command(command, where);
  }
  return problems;
}

}  // namespace flowframe
