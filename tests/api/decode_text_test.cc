// How DecodeObjects reads text: exact scalar text, streams, byte-order
// marks, line endings, tabs, NUL characters, JSON shapes and limits.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/codec.h"
#include "tests/api/test_util.h"

namespace svcd::api {
namespace {

using testing::CausesOf;
using testing::FindCause;
using testing::Join;
using testing::kDeployHead;
using testing::kHostHead;
using testing::ObjectsOf;

const std::string kDeploy = kDeployHead;

std::string EnvValueOf(const std::string& text, Format format = Format::kYaml) {
  std::vector<Object> objects = ObjectsOf(text, format);
  if (objects.size() != 1) return "<no object>";
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(objects[0]);
  if (deploy.spec.envs.empty()) return "<no env>";
  return deploy.spec.envs[0].value;
}

TEST(DecodeTextTest, StringFieldsKeepExactYamlText) {
  for (const char* raw : {"0,1",
                          "0700",
                          "no",
                          "off",
                          "yes",
                          "1e3",
                          "20000000",
                          "0.90",
                          "21:21",
                          "12345678901234567890",
                          "123456789012345678901234",
                          "true",
                          "-0",
                          "+1",
                          ".inf",
                          "0x1F",
                          "1_000",
                          "0o17",
                          "Y",
                          "2024-01-02",
                          "a # b"}) {
    SCOPED_TRACE(raw);
    std::string text = kDeploy + "  envs:\n    - name: A\n      value: " + raw + "\n";
    std::string expected = raw;
    if (expected == "a # b") expected = "a";  // " #" starts a comment
    EXPECT_EQ(EnvValueOf(text), expected);
  }
}

TEST(DecodeTextTest, StringFieldsKeepExactJsonNumberText) {
  for (const char* raw : {"0.90", "1e3", "1E+3", "20000000", "12345678901234567890",
                          "123456789012345678901234", "-5", "true", "false"}) {
    SCOPED_TRACE(raw);
    std::string text = std::string(R"({"apiVersion":"svcd.io/v1alpha1","kind":"ServiceDeploy",)") +
                       R"("metadata":{"name":"q"},"spec":{"templateRef":"t","modelName":"m",)" +
                       R"("master":{"host":"h"},"envs":[{"name":"A","value":)" + raw + "}]}}";
    EXPECT_EQ(EnvValueOf(text, Format::kJson), raw);
  }
}

TEST(DecodeTextTest, NullMeansNotSet) {
  for (const char* raw : {"~", "null", "Null", "NULL", ""}) {
    SCOPED_TRACE(raw);
    EXPECT_EQ(EnvValueOf(kDeploy + "  envs:\n    - name: A\n      value: " + raw + "\n"), "");
  }
  // A quoted null word is a string.
  EXPECT_EQ(EnvValueOf(kDeploy + "  envs:\n    - name: A\n      value: \"null\"\n"), "null");
}

TEST(DecodeTextTest, ModelNameAndArgValuesKeepText) {
  std::vector<Object> objects =
      ObjectsOf(std::string(kDeployHead) + "    args:\n      - {name: tp, value: 0700}\n");
  ASSERT_EQ(objects.size(), 1u);
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(objects[0]);
  EXPECT_EQ(deploy.spec.master.args.at(0).value, "0700");
  EXPECT_EQ(deploy.spec.model_name, "qwen2-7b");
}

TEST(DecodeTextTest, DropsByteOrderMark) {
  std::vector<Object> objects = ObjectsOf("\xEF\xBB\xBF" + kDeploy);
  ASSERT_EQ(objects.size(), 1u);
  std::vector<Cause> causes = CausesOf("\xEF\xBB\xBF" + kDeploy + "  bogus: 1\n");
  const Cause* cause = FindCause(causes, "spec.bogus");
  ASSERT_NE(cause, nullptr) << Join(causes);
  EXPECT_EQ(cause->line, 10);
  EXPECT_EQ(ObjectsOf("\xEF\xBB\xBF{\"apiVersion\":\"svcd.io/v1alpha1\",\"kind\":\"Host\","
                      "\"metadata\":{\"name\":\"a\"},\"spec\":{\"address\":\"10.0.0.1\"}}",
                      Format::kJson)
                .size(),
            1u);
}

TEST(DecodeTextTest, CrlfNeverReachesValues) {
  std::string text = kDeploy +
                     "  envs:\n    - name: A\n      value: x y\n    - name: B\n"
                     "      value: |\n        line one\n        line two\n";
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  std::vector<Object> objects = ObjectsOf(crlf);
  ASSERT_EQ(objects.size(), 1u);
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(objects[0]);
  EXPECT_EQ(deploy.spec.envs.at(0).value, "x y");
  EXPECT_EQ(deploy.spec.envs.at(1).value, "line one\nline two\n");
  EXPECT_EQ(deploy.spec.master.host, "gpu-01");

  std::vector<Cause> causes = CausesOf(crlf + "  bogus: 1\r\n");
  const Cause* cause = FindCause(causes, "spec.bogus");
  ASSERT_NE(cause, nullptr) << Join(causes);
  EXPECT_EQ(cause->line, 17);
}

TEST(DecodeTextTest, RejectsTabIndentationWithLine) {
  struct Case {
    std::string text;
    int line;
  };
  for (const Case& c : std::vector<Case>{
           {kDeploy + "  envs:\n\t- name: A\n", 11},
           {kDeploy + "\tsuspend: true\n", 10},
           {kDeploy + "  envs:\n    - name: A\n  \t  value: b\n", 12},
       }) {
    SCOPED_TRACE(c.text);
    std::vector<Cause> causes = CausesOf(c.text);
    ASSERT_EQ(causes.size(), 1u) << Join(causes);
    EXPECT_NE(causes[0].message.find("tab character used for indentation"), std::string::npos)
        << causes[0].message;
    EXPECT_EQ(causes[0].line, c.line);
  }
}

TEST(DecodeTextTest, AcceptsTabsInsideValues) {
  std::string text = kDeploy +
                     "  envs:\n    - name: A\n      value: a\tb\n    - name: B\n"
                     "      value: |\n        x\n        \tindented\n";
  std::vector<Object> objects = ObjectsOf(text);
  ASSERT_EQ(objects.size(), 1u);
  const ServiceDeploy& deploy = std::get<ServiceDeploy>(objects[0]);
  EXPECT_EQ(deploy.spec.envs.at(0).value, "a\tb");
  EXPECT_EQ(deploy.spec.envs.at(1).value, "x\n\tindented\n");
}

TEST(DecodeTextTest, RejectsNulWithFieldPath) {
  struct Case {
    std::string name;
    std::string text;
    Format format;
    std::string field;
    int line;
  };
  std::vector<Case> cases = {
      {"escape in YAML", kDeploy + "  envs:\n    - name: A\n      value: \"a\\0b\"\n",
       Format::kYaml, "spec.envs[0].value", 12},
      {"raw byte in YAML",
       kDeploy + "  envs:\n    - name: A\n      value: a" + std::string(1, '\0') + "b\n",
       Format::kYaml, "spec.envs[0].value", 12},
      {"raw byte in a model name", kDeploy + "  modelName: x" + std::string(1, '\0') + "\n",
       Format::kYaml, "spec.modelName", 10},
      {"escape in JSON",
       R"({"apiVersion":"svcd.io/v1alpha1","kind":"Host","metadata":{"name":"a"},)"
       R"("spec":{"address":"10.0.0.1","hostname":"a\u0000b"}})",
       Format::kJson, "spec.hostname", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Cause> causes = CausesOf(c.text, c.format);
    const Cause* cause = FindCause(causes, c.field);
    ASSERT_NE(cause, nullptr) << Join(causes);
    EXPECT_EQ(cause->line, c.line);
    EXPECT_NE(cause->message.find("NUL character"), std::string::npos) << cause->message;
  }
}

TEST(DecodeTextTest, RejectsBareScalarAndListDocuments) {
  std::vector<Cause> causes = CausesOf(kDeploy + "---\nfoo\n");
  const Cause* cause = FindCause(causes, "[doc 2]");
  ASSERT_NE(cause, nullptr) << Join(causes);
  EXPECT_EQ(cause->line, 11);
  EXPECT_NE(cause->message.find("document 2 (line 11) is a string, not an object"),
            std::string::npos)
      << cause->message;

  causes = CausesOf("- a\n- b\n");
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_EQ(causes[0].field, "");
  EXPECT_EQ(causes[0].line, 1);
  EXPECT_NE(causes[0].message.find("document 1 (line 1) is a list"), std::string::npos);
}

TEST(DecodeTextTest, SkipsEmptyDocuments) {
  std::string text = "# leading comment\n---\n# only a comment\n---\n---\n" + kDeploy + "---\n" +
                     kHostHead + "  address: 10.0.0.1\n---\n";
  std::vector<Object> objects = ObjectsOf(text);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(KindOf(objects[0]), "ServiceDeploy");
  EXPECT_EQ(KindOf(objects[1]), "Host");
}

TEST(DecodeTextTest, RejectsStreamWithoutObjects) {
  for (const char* text : {"", "\n\n", "# nothing here\n", "---\n---\n", "[]"}) {
    SCOPED_TRACE(text);
    StatusOr<std::vector<Object>> result = DecodeObjects(text, DetectFormat(text));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), Code::kInvalidArgument);
    EXPECT_NE(result.status().message().find("no objects found"), std::string::npos)
        << result.status().message();
  }
}

TEST(DecodeTextTest, ReportsEveryBadDocument) {
  std::string bad_name = kDeploy;
  bad_name.replace(bad_name.find("name: qwen"), 10, "name: Bad");
  std::string text = bad_name + "---\n" + kDeploy + "---\n" + kDeploy + "  bogus: 1\n";
  StatusOr<std::vector<Object>> result =
      DecodeObjects(text, Format::kYaml, {.source_name = "deploys.yaml"});
  ASSERT_FALSE(result.ok());
  const std::string& message = result.status().message();
  EXPECT_NE(message.find("deploys.yaml: "), std::string::npos) << message;
  EXPECT_NE(message.find("doc 1"), std::string::npos) << message;
  EXPECT_NE(message.find("doc 3"), std::string::npos) << message;
  EXPECT_EQ(message.find("doc 2"), std::string::npos) << message;
  const std::vector<Cause>& causes = result.status().causes();
  ASSERT_EQ(causes.size(), 2u) << Join(causes);
  EXPECT_EQ(causes[0].field, "[doc 1] metadata.name");
  EXPECT_EQ(causes[0].line, 4);
  EXPECT_EQ(causes[1].field, "[doc 3] spec.bogus");
  EXPECT_EQ(causes[1].line, 30);
  EXPECT_EQ(causes[1].source, "deploys.yaml");
}

TEST(DecodeTextTest, RejectsAnchorsAndAliases) {
  for (const std::string& text :
       {kDeploy + "  envs: &shared []\n", kDeploy + "  workers: [{host: a, envs: *shared}]\n"}) {
    std::vector<Cause> causes = CausesOf(text);
    ASSERT_EQ(causes.size(), 1u) << Join(causes);
    // yaml-cpp rejects an alias to an undefined anchor before calling the tree builder.
    EXPECT_NE(causes[0].message.find("anchor"), std::string::npos) << causes[0].message;
    EXPECT_EQ(causes[0].line, 10);
  }
}

TEST(DecodeTextTest, ReportsYamlSyntaxErrorPosition) {
  std::vector<Cause> causes = CausesOf(kDeploy + "  envs: [{name: A}\n");
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_GE(causes[0].line, 10);
  EXPECT_GT(causes[0].column, 0);
  EXPECT_NE(causes[0].message.find("check the indentation and quoting"), std::string::npos);

  causes = CausesOf(kDeploy + "  modelName: \"unclosed\n");
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_GE(causes[0].line, 10);
}

TEST(DecodeTextTest, JsonKeepsDuplicateKeys) {
  std::string text =
      R"({"apiVersion":"svcd.io/v1alpha1","kind":"Host","metadata":{"name":"a","name":"b"},)"
      R"("spec":{"address":"10.0.0.1","sshPort":22,"sshPort":23}})";
  std::vector<Cause> causes = CausesOf(text, Format::kJson);
  ASSERT_EQ(causes.size(), 2u) << Join(causes);
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_NE(causes[0].message.find("duplicate key \"name\""), std::string::npos);
  EXPECT_EQ(causes[0].line, 0);
  EXPECT_EQ(causes[1].field, "spec.sshPort");
}

TEST(DecodeTextTest, JsonTypesAreStrict) {
  std::string head = R"({"apiVersion":"svcd.io/v1alpha1","kind":"Host","metadata":{"name":"a"},)";
  struct Case {
    std::string spec;
    std::string field;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"address":"10.0.0.1","sshPort":"22"})", "spec.sshPort", "remove the quotes"},
           {R"({"address":"10.0.0.1","sshPort":22.0})", "spec.sshPort", "plain decimal"},
           {R"({"address":"10.0.0.1","disabled":1})", "spec.disabled", "expected boolean"},
           {R"({"address":"10.0.0.1","disabled":"true"})", "spec.disabled", "remove the quotes"},
           {R"({"address":null})", "spec.address", "missing required field"},
       }) {
    SCOPED_TRACE(c.spec);
    std::vector<Cause> causes = CausesOf(head + R"("spec":)" + c.spec + "}", Format::kJson);
    const Cause* cause = FindCause(causes, c.field);
    ASSERT_NE(cause, nullptr) << Join(causes);
    EXPECT_NE(cause->message.find(c.message), std::string::npos) << cause->message;
  }
}

TEST(DecodeTextTest, JsonListAndArray) {
  std::string host = R"({"apiVersion":"svcd.io/v1alpha1","kind":"Host","metadata":{"name":"a"},)"
                     R"("spec":{"address":"10.0.0.1"}})";
  std::string bad = R"({"apiVersion":"svcd.io/v1alpha1","kind":"Host","metadata":{"name":"b"},)"
                    R"("spec":{"address":"10.0.0.1","port":1}})";
  EXPECT_EQ(ObjectsOf("[" + host + "," + host + "]", Format::kJson).size(), 2u);
  EXPECT_EQ(ObjectsOf(R"({"apiVersion":"v1","kind":"List","items":[)" + host + "]}", Format::kJson)
                .size(),
            1u);
  std::vector<Cause> causes = CausesOf("[" + host + "," + bad + ", 3]", Format::kJson);
  ASSERT_EQ(causes.size(), 2u) << Join(causes);
  EXPECT_EQ(causes[0].field, "[item 2] spec.port");
  EXPECT_EQ(causes[1].field, "[item 3]");
  causes = CausesOf(R"({"kind":"List","items":[)" + host + "," + bad + "]}", Format::kJson);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_EQ(causes[0].field, "[item 2] spec.port");
  // YAML streams may hold Lists too.
  EXPECT_EQ(ObjectsOf("kind: List\nitems:\n- " + host + "\n").size(), 1u);
}

TEST(DecodeTextTest, ReportsJsonSyntaxErrorPosition) {
  StatusOr<std::vector<Object>> result =
      DecodeObjects("{\"kind\": \"Host\",\n \"spec\": {,}}", Format::kJson);
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.status().causes().size(), 1u);
  EXPECT_EQ(result.status().causes()[0].line, 2);
  EXPECT_EQ(result.status().causes()[0].column, 11);
  EXPECT_NE(result.status().message().find("invalid JSON"), std::string::npos);
}

TEST(DecodeTextTest, EnforcesSizeAndDepthLimits) {
  StatusOr<std::vector<Object>> result =
      DecodeObjects(kDeploy, Format::kYaml, {.source_name = "", .max_bytes = 64});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kResourceExhausted);
  EXPECT_NE(result.status().message().find("larger than the limit of 64 bytes"), std::string::npos);

  std::string deep = kDeploy + "  bogus: " + std::string(100, '[') + std::string(100, ']') + "\n";
  std::vector<Cause> causes = CausesOf(deep);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_NE(causes[0].message.find("nesting deeper than 64 levels"), std::string::npos);
  EXPECT_EQ(causes[0].line, 10);

  std::string deep_json = std::string(100, '[') + std::string(100, ']');
  causes = CausesOf(deep_json, Format::kJson);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_NE(causes[0].message.find("nesting deeper than 64 levels"), std::string::npos);
}

TEST(DecodeTextTest, RejectsTooManyValuesAndDocuments) {
  std::string many = kDeploy + "  bogus: [";
  for (int i = 0; i < 200001; ++i) many += "1,";
  many += "1]\n";
  std::vector<Cause> causes = CausesOf(many);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_NE(causes[0].message.find("more than 200000 values"), std::string::npos);

  causes = CausesOf("[" + many.substr(many.find('[') + 1), Format::kJson);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_NE(causes[0].message.find("more than 200000 values"), std::string::npos);

  std::string documents;
  for (int i = 0; i < 10001; ++i) documents += "---\n";
  causes = CausesOf(documents);
  ASSERT_EQ(causes.size(), 1u) << Join(causes);
  EXPECT_NE(causes[0].message.find("more than 10000 documents"), std::string::npos);
}

TEST(DecodeTextTest, RejectsInvalidUtf8) {
  for (const char* bad : {"b\xff", "x\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    SCOPED_TRACE(bad);
    std::vector<Cause> causes =
        CausesOf(kDeploy + "  envs:\n    - name: A\n      value: \"" + bad + "\"\n");
    const Cause* cause = FindCause(causes, "spec.envs[0].value");
    ASSERT_NE(cause, nullptr) << Join(causes);
    EXPECT_EQ(cause->line, 12);
    EXPECT_NE(cause->message.find("not valid UTF-8"), std::string::npos);
  }
  EXPECT_EQ(
      EnvValueOf(
          kDeploy +
          "  envs:\n    - name: A\n      value: \"\xc3\xbc \xe6\xbc\xa2 \xf0\x9f\x98\x80\"\n"),
      "\xc3\xbc \xe6\xbc\xa2 \xf0\x9f\x98\x80");
}

TEST(DecodeTextTest, DetectsFormatByFirstByte) {
  EXPECT_EQ(DetectFormat("{\"kind\": \"Host\"}"), Format::kJson);
  EXPECT_EQ(DetectFormat("  \n\t[1]"), Format::kJson);
  EXPECT_EQ(DetectFormat("\xEF\xBB\xBF{}"), Format::kJson);
  EXPECT_EQ(DetectFormat("kind: Host\n"), Format::kYaml);
  EXPECT_EQ(DetectFormat("# {comment}\n"), Format::kYaml);
  EXPECT_EQ(DetectFormat(""), Format::kYaml);
}

}  // namespace
}  // namespace svcd::api
