// YAML stream -> document tree, through yaml-cpp's event API.

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "api/document.h"

namespace svcd::api {
namespace {

constexpr char kStringTag[] = "tag:yaml.org,2002:str";

// Thrown from event callbacks to stop the parse at the first structural
// problem the tree cannot represent.
struct TreeError {
  std::string message;
  YAML::Mark mark;
};

// A position in the input, 1-based.
struct Position {
  int line = 0;
  int column = 0;
  friend auto operator<=>(const Position&, const Position&) = default;
};

// The start of a scalar (value or key), with its path, used to attribute a
// raw NUL byte to the field that contains it.
struct ScalarStart {
  Position position;
  size_t document = 0;  // index into the documents vector
  std::string path;
};

// The input after normalisation, and what the raw bytes contained.
struct PreparedText {
  std::string text;
  std::vector<Position> raw_nuls;       // replaced by spaces in `text`
  std::vector<int> tab_indented_lines;  // a tab before the first content
};

PreparedText Prepare(std::string_view input) {
  PreparedText out;
  if (input.substr(0, 3) == "\xEF\xBB\xBF") input.remove_prefix(3);
  out.text.reserve(input.size());
  int line = 1;
  int column = 1;
  bool in_indent = true;
  bool tab_in_indent = false;
  for (size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    if (c == '\r') {
      // CRLF and lone CR both end a line; neither reaches a value.
      if (i + 1 < input.size() && input[i + 1] == '\n') continue;
      c = '\n';
    }
    if (c == '\n') {
      out.text.push_back('\n');
      ++line;
      column = 1;
      in_indent = true;
      tab_in_indent = false;
      continue;
    }
    if (c == '\0') {
      out.raw_nuls.push_back({line, column});
      c = ' ';
    }
    if (in_indent) {
      if (c == '\t') {
        tab_in_indent = true;
      } else if (c != ' ') {
        in_indent = false;
        if (tab_in_indent && c != '#') out.tab_indented_lines.push_back(line);
      }
    }
    out.text.push_back(c);
    ++column;
  }
  return out;
}

// Returns true when `text` is well-formed UTF-8: no overlong forms, no
// surrogates, nothing above U+10FFFF. yaml-cpp passes other bytes through.
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    int length = lead < 0x80           ? 1
                 : (lead >> 5) == 0x6  ? 2
                 : (lead >> 4) == 0xE  ? 3
                 : (lead >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (int k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string ChildPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

// Builds one Node tree per document from parser events.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(std::vector<Document>& documents, std::vector<ScalarStart>& scalars,
              std::set<int>& node_lines, const ParseLimits& limits)
      : documents_(documents), scalars_(scalars), node_lines_(node_lines), limits_(limits) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_.size() >= limits_.max_documents) {
      throw TreeError{"more than " + std::to_string(limits_.max_documents) +
                          " documents in one stream; split it up",
                      mark};
    }
    Document& doc = documents_.emplace_back();
    doc.index = static_cast<int>(documents_.size());
    doc.line = mark.line + 1;
    doc.label = "doc " + std::to_string(doc.index);
    stack_.clear();
    root_done_ = false;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(mark, anchor);
    Node node;
    Place(mark, std::move(node));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw TreeError{"aliases (*name) are not supported; write the value out in full", mark};
  }

  void OnAnchor(const YAML::Mark& mark, const std::string& name) override {
    throw TreeError{"anchors (&" + name + ") are not supported; write the value out in full", mark};
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override;

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    OpenCollection(mark, tag, anchor, Node::Type::kSequence);
  }
  void OnSequenceEnd() override { stack_.pop_back(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    OpenCollection(mark, tag, anchor, Node::Type::kMap);
  }
  void OnMapEnd() override { stack_.pop_back(); }

 private:
  // An open map or list, and for a map the key waiting for its value.
  struct Open {
    Node* node = nullptr;
    std::string path;
    bool has_key = false;
    MapEntry pending;
  };

  void CheckAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != 0) throw TreeError{"anchors are not supported; write the value out", mark};
  }

  void OpenCollection(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                      Node::Type type);
  // Stores `node` in the innermost open collection (or as the document root)
  // and returns where it landed, or nullptr when it became a map key.
  Node* Place(const YAML::Mark& mark, Node node);
  std::string PathOfNext() const;

  std::vector<Document>& documents_;
  std::vector<ScalarStart>& scalars_;
  std::set<int>& node_lines_;
  const ParseLimits& limits_;
  size_t node_count_ = 0;
  std::vector<Open> stack_;
  bool root_done_ = false;
};

void TreeBuilder::OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                           const std::string& value) {
  CheckAnchor(mark, anchor);
  if (tag != "?" && tag != "!" && tag != kStringTag) {
    throw TreeError{"unsupported tag \"" + tag + "\"; remove it (only !!str is accepted)", mark};
  }
  Node node;
  node.type = Node::Type::kScalar;
  node.text = value;
  node.quoted = tag != "?";
  std::string path = PathOfNext();
  bool is_key =
      !stack_.empty() && stack_.back().node->type == Node::Type::kMap && !stack_.back().has_key;
  if (is_key) path = ChildPath(stack_.back().path, value);
  scalars_.push_back({{mark.line + 1, mark.column + 1}, documents_.size() - 1, path});
  if (value.find('\0') != std::string::npos) {
    documents_.back().causes.push_back(
        CauseAt(path, "contains a NUL character; remove it", mark.line + 1, mark.column + 1));
  } else if (!IsValidUtf8(value)) {
    documents_.back().causes.push_back(CauseAt(path, "is not valid UTF-8; save the file as UTF-8",
                                               mark.line + 1, mark.column + 1));
  }
  Place(mark, std::move(node));
}

void TreeBuilder::OpenCollection(const YAML::Mark& mark, const std::string& tag,
                                 YAML::anchor_t anchor, Node::Type type) {
  CheckAnchor(mark, anchor);
  if (tag != "?" && tag != "!") {
    throw TreeError{"unsupported tag \"" + tag + "\"; remove it", mark};
  }
  if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
    throw TreeError{"nesting deeper than " + std::to_string(limits_.max_depth) + " levels", mark};
  }
  std::string path = PathOfNext();
  Node node;
  node.type = type;
  Node* placed = Place(mark, std::move(node));
  Open open;
  open.node = placed;
  open.path = std::move(path);
  stack_.push_back(std::move(open));
}

std::string TreeBuilder::PathOfNext() const {
  if (stack_.empty()) return "";
  const Open& top = stack_.back();
  if (top.node->type == Node::Type::kSequence) {
    return top.path + "[" + std::to_string(top.node->items.size()) + "]";
  }
  return top.has_key ? ChildPath(top.path, top.pending.key) : top.path;
}

Node* TreeBuilder::Place(const YAML::Mark& mark, Node node) {
  if (++node_count_ > limits_.max_nodes) {
    throw TreeError{"more than " + std::to_string(limits_.max_nodes) + " values; split it up",
                    mark};
  }
  node.line = mark.line + 1;
  node.column = mark.column + 1;
  node_lines_.insert(node.line);
  if (stack_.empty()) {
    if (root_done_) throw TreeError{"unexpected content after the document root", mark};
    root_done_ = true;
    documents_.back().root = std::move(node);
    return &documents_.back().root;
  }
  Open& top = stack_.back();
  if (top.node->type == Node::Type::kSequence) {
    top.node->items.push_back(std::move(node));
    return &top.node->items.back();
  }
  if (!top.has_key) {
    if (node.type != Node::Type::kScalar) {
      throw TreeError{"map keys must be strings; complex and empty keys are not supported", mark};
    }
    top.pending = MapEntry{node.text, node.line, node.column, {}};
    top.has_key = true;
    return nullptr;
  }
  top.has_key = false;
  top.pending.value = std::move(node);
  top.node->entries.push_back(std::move(top.pending));
  top.pending = MapEntry{};
  return &top.node->entries.back().value;
}

// Reports each raw NUL byte under the field of the scalar that starts last
// before it, so the message names the value the user has to fix.
void AttributeRawNuls(const std::vector<Position>& nuls, const std::vector<ScalarStart>& scalars,
                      std::vector<Document>& documents) {
  for (const Position& nul : nuls) {
    auto after =
        std::upper_bound(scalars.begin(), scalars.end(), nul,
                         [](const Position& p, const ScalarStart& s) { return p < s.position; });
    if (after == scalars.begin()) {
      documents.front().causes.push_back(
          CauseAt("", "contains a NUL character; remove it", nul.line, nul.column));
      continue;
    }
    const ScalarStart& owner = *(after - 1);
    documents[owner.document].causes.push_back(
        CauseAt(owner.path, "contains a NUL character; remove it", nul.line, nul.column));
  }
}

Status TabError(int line) {
  return Status::InvalidArgument(
      "invalid YAML: tab character used for indentation on line " + std::to_string(line),
      {CauseAt("", "tab character used for indentation; indent with spaces", line, 1)});
}

}  // namespace

StatusOr<std::vector<Document>> ParseYamlStream(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::ResourceExhausted("input of " + std::to_string(text.size()) +
                                     " bytes is larger than the limit of " +
                                     std::to_string(limits.max_bytes) + " bytes; split it up");
  }
  PreparedText prepared = Prepare(text);
  std::vector<Document> documents;
  std::vector<ScalarStart> scalars;
  std::set<int> node_lines;
  std::istringstream in(prepared.text);
  try {
    YAML::Parser parser(in);
    TreeBuilder builder(documents, scalars, node_lines, limits);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const TreeError& error) {
    Cause cause = CauseAt("", error.message, error.mark.line + 1, error.mark.column + 1);
    return Status::InvalidArgument("invalid YAML: " + error.message, {cause});
  } catch (const YAML::Exception& error) {
    int line = error.mark.line + 1;
    // yaml-cpp reports tab indentation as some other syntax error at or
    // after the tab, so a tab-indented line before the error explains it.
    for (int tab_line : prepared.tab_indented_lines) {
      if (tab_line <= line) return TabError(tab_line);
    }
    std::string message = error.msg + "; check the indentation and quoting";
    Cause cause = CauseAt("", message, line, error.mark.column + 1);
    return Status::InvalidArgument("invalid YAML: " + message, {cause});
  }
  for (int tab_line : prepared.tab_indented_lines) {
    if (node_lines.count(tab_line) > 0) return TabError(tab_line);
  }
  if (!prepared.raw_nuls.empty()) {
    if (documents.empty()) {
      const Position& nul = prepared.raw_nuls.front();
      return Status::InvalidArgument(
          "input contains a NUL character",
          {CauseAt("", "NUL character; remove it", nul.line, nul.column)});
    }
    AttributeRawNuls(prepared.raw_nuls, scalars, documents);
  }
  return documents;
}

}  // namespace svcd::api
