// JSON text -> document tree, through nlohmann's SAX interface.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/document.h"

namespace svcd::api {
namespace {

// Builds the tree from SAX events. Keeps duplicate keys, which the DOM parser
// would collapse to the last one.
class JsonTreeBuilder {
 public:
  explicit JsonTreeBuilder(const ParseLimits& limits) : limits_(limits) {}

  bool null() { return Add(Node{}); }
  bool boolean(bool value) { return AddScalar(value ? "true" : "false", false); }
  bool number_integer(int64_t value) { return AddScalar(std::to_string(value), false); }
  bool number_unsigned(uint64_t value) { return AddScalar(std::to_string(value), false); }
  bool number_float(double, const std::string& text) { return AddScalar(text, false); }
  bool string(std::string& value) { return AddScalar(std::move(value), true); }
  bool binary(nlohmann::json::binary_t&) { return Fail("binary values are not supported"); }

  bool start_object(size_t) { return Open(Node::Type::kMap); }
  bool start_array(size_t) { return Open(Node::Type::kSequence); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(std::string& key) {
    pending_key_ = std::move(key);
    return true;
  }

  bool parse_error(size_t position, const std::string&, const nlohmann::detail::exception& error) {
    error_position_ = position;
    error_ = error.what();
    // Drop the "[json.exception.parse_error.101] " prefix: it means nothing
    // to a user.
    size_t bracket = error_.find("] ");
    if (error_.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) {
      error_.erase(0, bracket + 2);
    }
    return false;
  }

  Node& root() { return root_; }
  const std::string& error() const { return error_; }
  size_t error_position() const { return error_position_; }

 private:
  bool AddScalar(std::string text, bool quoted) {
    Node node;
    node.type = Node::Type::kScalar;
    node.text = std::move(text);
    node.quoted = quoted;
    return Add(std::move(node));
  }

  bool Add(Node node) {
    if (node_count_ >= limits_.max_nodes) return TooManyNodes();
    Place(std::move(node));
    return true;
  }

  bool TooManyNodes() {
    return Fail("more than " + std::to_string(limits_.max_nodes) + " values; split it up");
  }

  Node* Place(Node node) {
    ++node_count_;
    if (stack_.empty()) {
      root_ = std::move(node);
      return &root_;
    }
    Node* top = stack_.back();
    if (top->type == Node::Type::kSequence) {
      top->items.push_back(std::move(node));
      return &top->items.back();
    }
    top->entries.push_back(MapEntry{std::move(pending_key_), 0, 0, std::move(node)});
    return &top->entries.back().value;
  }

  bool Open(Node::Type type) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return Fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    if (node_count_ >= limits_.max_nodes) return TooManyNodes();
    Node node;
    node.type = type;
    stack_.push_back(Place(std::move(node)));
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  const ParseLimits& limits_;
  size_t node_count_ = 0;
  Node root_;
  std::vector<Node*> stack_;
  std::string pending_key_;
  std::string error_;
  size_t error_position_ = 0;
};

// Converts a byte offset to a 1-based line and column.
std::pair<int, int> LineAndColumn(std::string_view text, size_t offset) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::string JoinPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// Reports every key and string that contains a NUL (from a "\u0000" escape).
void CollectNuls(const Node& node, const std::string& path, std::vector<Cause>& causes) {
  constexpr char kMessage[] = "contains a NUL character; remove it";
  switch (node.type) {
    case Node::Type::kScalar:
      if (node.text.find('\0') != std::string::npos) causes.push_back(CauseAt(path, kMessage));
      break;
    case Node::Type::kMap:
      for (const MapEntry& entry : node.entries) {
        std::string child = JoinPath(path, entry.key);
        if (entry.key.find('\0') != std::string::npos) causes.push_back(CauseAt(child, kMessage));
        CollectNuls(entry.value, child, causes);
      }
      break;
    case Node::Type::kSequence:
      for (size_t i = 0; i < node.items.size(); ++i) {
        CollectNuls(node.items[i], path + "[" + std::to_string(i) + "]", causes);
      }
      break;
    case Node::Type::kNull:
      break;
  }
}

Document MakeDocument(int index, std::string label, Node root) {
  Document doc;
  doc.index = index;
  doc.label = std::move(label);
  doc.root = std::move(root);
  CollectNuls(doc.root, "", doc.causes);
  return doc;
}

}  // namespace

StatusOr<std::vector<Document>> ParseJson(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::ResourceExhausted("input of " + std::to_string(text.size()) +
                                     " bytes is larger than the limit of " +
                                     std::to_string(limits.max_bytes) + " bytes; split it up");
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  JsonTreeBuilder builder(limits);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text, &builder);
  } catch (const nlohmann::json::exception& error) {
    return Status::InvalidArgument(std::string("invalid JSON: ") + error.what());
  }
  if (!ok) {
    std::string message = "invalid JSON: " + builder.error();
    if (builder.error_position() == 0)
      return Status::InvalidArgument(message, {CauseAt("", message)});
    auto [line, column] = LineAndColumn(text, builder.error_position() - 1);
    return Status::InvalidArgument(message, {CauseAt("", builder.error(), line, column)});
  }

  std::vector<Document> documents;
  Node& root = builder.root();
  if (root.type != Node::Type::kSequence) {
    documents.push_back(MakeDocument(1, "doc 1", std::move(root)));
    return documents;
  }
  for (size_t i = 0; i < root.items.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    documents.push_back(
        MakeDocument(index, "item " + std::to_string(index), std::move(root.items[i])));
  }
  return documents;
}

}  // namespace svcd::api
