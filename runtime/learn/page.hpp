#pragma once
// Concept pages (scenarios/NAME.page): a small markup anyone can write without touching C++.
//   # Title / ## Section      headings
//   - item                    a list item
//   ``` ... ```               code
//   **bold**, `code`          inside text
//   [try: LABEL | CONTROL]    a button that runs CONTROL (as `flowframe control` words) on the live run;
//                             several controls are separated by ';'
// Blank lines separate paragraphs.
#include <string>
#include <vector>

#include "flowframe/v1/scenario.pb.h"

namespace flowframe {

struct PageSpan {
  std::string text;
  bool bold = false;
  bool code = false;
};

struct PageBlock {
  enum class Kind { title, section, paragraph, item, code, action };
  explicit PageBlock(Kind of = Kind::paragraph) : kind(of) {}
  Kind kind;
  std::vector<PageSpan> spans;        // title, section, paragraph, item
  std::string text;                   // code
  std::string label;                  // action
  std::vector<std::vector<std::string>> commands;  // action: control words, one list per control
  int line = 0;
};

struct Page {
  std::string title;
  std::vector<PageBlock> blocks;
};

Page parse_page(const std::string& text);

// Problems with a page against its scenario: "try" lines that do not parse, or name a node or a
// field the scenario does not have. Each names the page line.
std::vector<std::string> check_page(const Page& page, const std::string& page_name, const v1::Scenario& scenario);

}  // namespace flowframe
