// The strict codec: resources from YAML or JSON text, and back.
//
// Decoding is strict. Unknown fields, duplicate keys, wrong types, values
// outside their rules and missing required fields are all errors. Every
// problem of every document is reported in one InvalidArgument status, each
// as a Cause with the field path and, for YAML, the line and column.
//
// Scalars keep their exact text: a string field receives the characters as
// written (`0,1`, `0700`, `no`, `1e3`, `21:21` stay those characters). An
// integer field takes plain decimal only (`010` is an error, never 8; a
// quoted "8000" is a type error). A boolean field takes only true or false.
// null, `~` and an empty value mean "not set".

#ifndef SVCD_API_CODEC_H_
#define SVCD_API_CODEC_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "api/types.h"

namespace svcd::api {

enum class Format { kYaml, kJson };

struct DecodeOptions {
  // Names the input in the status message, such as a file name; may be empty.
  std::string source_name;
  // Larger input is rejected with ResourceExhausted before parsing.
  size_t max_bytes = 4 << 20;
  // Maximum nesting of maps and lists; deeper input is InvalidArgument.
  int max_depth = 64;
};

// Decodes every object of a YAML stream or of JSON text (one object, an array
// of objects, or {"kind": "List", "items": [...]}; YAML documents may be
// Lists too). Validates every field but applies no defaults.
//
// Empty and comment-only YAML documents are skipped. Errors:
//   InvalidArgument: syntax errors, a document that is not an object, no
//     object at all, and every field problem. When the input contains more than
//     one document, each Cause.field starts with "[doc N] " (or "[item N] "
//     for JSON arrays and List items) and the message names the documents.
//   ResourceExhausted: input larger than options.max_bytes.
StatusOr<std::vector<Object>> DecodeObjects(std::string_view text, Format format,
                                            const DecodeOptions& options = {});

// Returns kJson when the first byte that is not whitespace (after an optional
// byte-order mark) is '{' or '[', else kYaml.
Format DetectFormat(std::string_view text);

// Encodes apiVersion, kind, metadata, spec and status (Host and
// ServiceDeploy only). Keys are sorted, as nlohmann::json stores them.
nlohmann::json EncodeJson(const Object& object);

// Encodes the object as one YAML document, fields in their documented order.
// DecodeObjects reads the result back to an equal object.
std::string EncodeYaml(const Object& object);

// Returns "Host", "ServiceTemplate" or "ServiceDeploy".
std::string KindOf(const Object& object);

const ObjectMeta& MetaOf(const Object& object);
ObjectMeta& MetaOf(Object& object);

}  // namespace svcd::api

#endif  // SVCD_API_CODEC_H_
