// A generic document tree with source positions, parsed from YAML or JSON.
//
// The typed decoder (api/decoder.h) reads resources from this tree instead of
// from yaml-cpp nodes or nlohmann::json values, because both libraries lose
// facts that strict decoding needs. yaml-cpp's node API keeps one of two
// duplicate keys and resolves scalar types, and nlohmann keeps the last
// duplicate key. The tree keeps every map entry in document order (duplicates
// included), each scalar's text exactly as written, whether the scalar was
// quoted, and its 1-based line and column.

#ifndef SVCD_API_DOCUMENT_H_
#define SVCD_API_DOCUMENT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/status.h"

namespace svcd::api {

struct MapEntry;

struct Node {
  enum class Type { kNull, kScalar, kMap, kSequence };

  Type type = Type::kNull;
  // Scalar text: for plain scalars the characters as written, for quoted and
  // block scalars the value after unescaping and folding. For JSON, numbers
  // keep their text, true and false are plain scalars and strings are quoted.
  std::string text;
  // True for quoted and block scalars in YAML (and `!!str` tagged ones) and
  // for JSON strings: such a scalar is always a string, never a number,
  // boolean or null.
  bool quoted = false;
  int line = 0;  // 1-based; 0 for JSON input
  int column = 0;
  std::vector<MapEntry> entries;  // kMap, in document order, duplicates kept
  std::vector<Node> items;        // kSequence
};

struct MapEntry {
  std::string key;
  int line = 0;  // position of the key
  int column = 0;
  Node value;
};

// Returns "null", "string", "object" or "list", as used in type errors.
const char* NodeTypeName(const Node& node);

// One document of a stream, or one item of a JSON array or List.
struct Document {
  int index = 0;      // 1-based position in the stream (YAML) or array (JSON)
  int line = 0;       // line where the document starts; 0 for JSON
  std::string label;  // "doc 2" or "item 2", used to prefix cause fields
  Node root;          // kNull for an empty or comment-only document
  // Problems found while reading the text, such as NUL characters, with
  // field paths relative to the root.
  std::vector<Cause> causes;
};

struct ParseLimits {
  size_t max_bytes = 4 << 20;  // larger input is rejected with ResourceExhausted
  int max_depth = 64;          // nesting of maps and lists
  // Bounds the memory a small but hostile input can take: a tree node costs
  // about 100 bytes, against as little as 2 bytes of text.
  size_t max_nodes = 200000;
  size_t max_documents = 10000;
};

// Parses a YAML stream into its documents.
//
// Drops a leading UTF-8 byte-order mark and normalises CRLF and lone CR line
// endings to LF before parsing, so line numbers stay those of the input.
// Returns InvalidArgument for syntax errors (with line and column), tab
// indentation, anchors and aliases, unsupported tags, non-scalar map keys,
// nesting deeper than `limits.max_depth` and more nodes or documents than
// the limits allow; ResourceExhausted when the text is larger than
// `limits.max_bytes`. NUL characters (raw or from a "\0" escape) and text
// that is not UTF-8 do not fail the parse: they are reported in the owning
// Document's causes with the field path of the scalar that contains them.
StatusOr<std::vector<Document>> ParseYamlStream(std::string_view text,
                                                const ParseLimits& limits = {});

// Parses JSON text with the same tree shape. A top-level array yields one
// Document per item labelled "item N"; any other value yields one Document
// labelled "doc 1". Duplicate keys are kept (nlohmann would keep only the
// last). Errors are reported as for ParseYamlStream, with line and column
// computed from the byte offset of a syntax error.
StatusOr<std::vector<Document>> ParseJson(std::string_view text, const ParseLimits& limits = {});

// Returns a Cause without a source; DecodeObjects sets the source for all.
inline Cause CauseAt(std::string field, std::string message, int line = 0, int column = 0) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  cause.line = line;
  cause.column = column;
  return cause;
}

// Formats `value` for an error message: double-quoted, control characters
// escaped, and cut to about 80 characters so hostile input stays readable.
std::string QuoteForMessage(std::string_view value);

}  // namespace svcd::api

#endif  // SVCD_API_DOCUMENT_H_
