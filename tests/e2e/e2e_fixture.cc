#include "tests/e2e/e2e_fixture.h"

#include <soci/soci.h>

#include <cctype>
#include <fstream>
#include <iostream>
#include <sstream>

namespace svcd::e2e {

void E2eTest::SetUp() {
  SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
  temp_dir_ =
      std::filesystem::temp_directory_path() / ("svcd-e2e-" + svcd::testing::RandomSuffix());
  std::filesystem::create_directories(temp_dir_);
  scratch_ = std::make_unique<svcd::testing::ScratchDatabase>(GetParam());
  ASSERT_FALSE(HasFailure()) << "the scratch database could not be created";

  options_.store_url = scratch_->url().ToString();
  options_.store_password = scratch_->password();
  options_.data_dir = (temp_dir_ / "data").string();
  ConfigureServer(options_);
  const std::string failure = server_.Start(options_);
  ASSERT_EQ(failure, "");
}

void E2eTest::TearDown() {
  if (server_.Running()) {
    const int exit_code = server_.Stop();
    EXPECT_EQ(exit_code, 0) << "svcd did not stop cleanly; log:\n" << server_.Log();
  }
  if (HasFailure() && !temp_dir_.empty()) {
    std::cerr << "svcd log:\n" << server_.Log() << "\n";
  }
  // The scratch database is dropped after svcd has stopped using it.
  scratch_.reset();
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

std::string E2eTest::WriteTempFile(const std::string& name, const std::string& contents) const {
  const std::filesystem::path path = temp_dir_ / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path.string();
}

HttpReply E2eTest::Http(const std::string& method, const std::string& path, std::string_view body,
                        RequestOptions request) const {
  if (request.token.empty()) request.token = token_;
  return SendRequest(method, server_.base_url() + path, body, request);
}

HttpReply E2eTest::Apply(const std::string& yaml, const std::string& query) const {
  std::string path = std::string(kApiPrefix) + "/apply";
  if (!query.empty()) path += "?" + query;
  return Http("POST", path, yaml);
}

nlohmann::json E2eTest::Stored(const std::string& path) const {
  const HttpReply reply = Http("GET", std::string(kApiPrefix) + path);
  if (reply.status != 200) return nlohmann::json(nlohmann::json::value_t::discarded);
  return reply.Json();
}

CommandResult E2eTest::Svcctl(const std::vector<std::string>& args, std::string_view input,
                              const std::string* token) const {
  std::vector<std::string> argv = {kSvcctlBinary, "--server", server_.base_url()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "HOME=" + temp_dir_.string()};
  const std::string& effective = token != nullptr ? *token : token_;
  if (!effective.empty()) env.push_back("SVCD_TOKEN=" + effective);
  return RunCommand(argv, env, input);
}

std::vector<AuditRow> E2eTest::AuditRows(const std::string& name) const {
  std::vector<AuditRow> rows;
  std::unique_ptr<store::Database> database = scratch_->Open();
  if (database == nullptr) return rows;
  const Status status = database->Run("reading op_audit_log", [&](soci::session& session) {
    soci::rowset<soci::row> result =
        (session.prepare << "SELECT operation_type, operator_user_id FROM op_audit_log "
                            "WHERE entity_name = :name ORDER BY op_time, audit_id",
         soci::use(name));
    for (const soci::row& row : result) {
      rows.push_back({row.get<std::string>(0), row.get<std::string>(1)});
    }
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  return rows;
}

std::string HostYaml(const std::string& name, const std::string& labels,
                     const std::string& address) {
  std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: Host\nmetadata:\n";
  yaml += "  name: " + name + "\n";
  yaml += "  labels: " + labels + "\n";
  yaml += "spec:\n";
  yaml += "  address: " + address + "\n";
  return yaml;
}

std::string TemplateYaml(const std::string& name) {
  std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: ServiceTemplate\nmetadata:\n";
  yaml += "  name: " + name + "\n";
  yaml += "spec:\n";
  yaml += "  sceneType: vllm\n";
  yaml += "  fixedPrefix: python3 -m vllm.entrypoints.openai.api_server\n";
  yaml += "  defaultMasterArgs:\n";
  yaml += "    - {name: port, value: \"8000\"}\n";
  return yaml;
}

std::string DeployYaml(const std::string& name, const std::string& ns, const std::string& tmpl,
                       const std::string& host, const std::string& extra_spec,
                       const std::string& labels) {
  std::string yaml = "apiVersion: svcd.io/v1alpha1\nkind: ServiceDeploy\nmetadata:\n";
  yaml += "  name: " + name + "\n";
  if (!ns.empty()) yaml += "  namespace: " + ns + "\n";
  yaml += "  labels: " + labels + "\n";
  yaml += "spec:\n";
  yaml += "  templateRef: " + tmpl + "\n";
  yaml += "  modelName: qwen2-7b\n";
  yaml += "  master:\n";
  yaml += "    host: " + host + "\n";
  yaml += "    args:\n";
  yaml += "      - {name: model, value: /mnt/models/qwen2-7b}\n";
  std::istringstream lines(extra_spec);
  std::string line;
  while (std::getline(lines, line)) yaml += "  " + line + "\n";
  return yaml;
}

std::vector<std::string> CauseFields(const nlohmann::json& status) {
  std::vector<std::string> fields;
  if (!status.is_object() || !status.contains("details") || !status["details"].contains("causes")) {
    return fields;
  }
  for (const auto& cause : status["details"]["causes"]) fields.push_back(cause.value("field", ""));
  return fields;
}

std::vector<std::string> ItemNames(const nlohmann::json& list) {
  std::vector<std::string> names;
  if (!list.is_object() || !list.contains("items")) return names;
  for (const auto& item : list["items"]) names.push_back(item["metadata"].value("name", ""));
  return names;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string YamlStream(const std::vector<std::string>& documents) {
  std::string out;
  for (const std::string& document : documents) out += (out.empty() ? "" : "---\n") + document;
  return out;
}

std::string StoreName(const ::testing::TestParamInfo<sql::Dialect>& info) {
  return svcd::testing::DialectName(info.param);
}

}  // namespace svcd::e2e
