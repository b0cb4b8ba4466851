// The manifest files the tests check, and the expectations written in the
// header comments of the bad ones.

#ifndef SVCD_TESTS_CRDS_MANIFEST_FILES_H_
#define SVCD_TESTS_CRDS_MANIFEST_FILES_H_

#include <string>
#include <string_view>
#include <vector>

namespace svcd::crdtest {

// Returns the paths of the *.yaml files directly in `relative_dir` of the
// source tree, sorted.
std::vector<std::string> ListYamlFiles(std::string_view relative_dir);

// Turns a file path into a GoogleTest parameter name: the file name without
// its extension, with every character other than a letter or digit as '_'.
std::string TestNameForFile(const std::string& path);

// Which check catches a bad manifest, from its "# caught-by:" line.
enum class Catcher {
  kUnknown,    // no or an unreadable caught-by line
  kLoader,     // "loader": YAML parsing fails before any schema check
  kSchema,     // "schema": the CRD schema rejects it, and so does svcd
  kCodecOnly,  // "codec only (reason)": only svcd's strict codec rejects it
};

// The expectations at the top of a file in tests/testdata/manifests/bad:
//   # expect: spec.master.args[1].name   field path of the error
//   # expect-line: 12                    or the 1-based line of the error
//   # caught-by: schema | loader | codec only (why the CRD cannot)
struct BadManifest {
  std::string path;
  std::string text;
  std::string expect_field;
  int expect_line = 0;
  Catcher catcher = Catcher::kUnknown;
  std::string reason;  // the text in brackets after "codec only"
};

// Reads a bad manifest and the expectations in its leading comment lines.
// Fields that are missing stay empty or zero, for the test to report.
BadManifest ReadBadManifest(const std::string& path);

// True when an error reported at `actual` points at `expected`: the same
// path, or a path inside it ("spec.probe" matches "spec.probe.http").
// A document prefix such as "[doc 2] " on `actual` is ignored.
bool FieldMatches(std::string_view actual, std::string_view expected);

}  // namespace svcd::crdtest

#endif  // SVCD_TESTS_CRDS_MANIFEST_FILES_H_
