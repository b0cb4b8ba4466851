// The shared test suite of the Store, run against real SQLite and real
// MariaDB with the same expectations.

#include "store/store.h"

#include <gtest/gtest.h>
#include <soci/soci.h>

#include <atomic>
#include <chrono>

#include "api/codec.h"
#include "api/defaults.h"
#include "tests/sql/scratch_database.h"

namespace svcd::store {
namespace {

using ::svcd::testing::ScratchDatabase;

constexpr char kUser[] = "alice";

api::Host MakeHost(const std::string& name, std::map<std::string, std::string> labels = {}) {
  api::Host host;
  host.metadata.name = name;
  host.metadata.labels = std::move(labels);
  host.spec.address = "10.0.0.12";
  host.spec.executor = "powerjob";
  host.spec.powerjob = api::HostPowerJob{"10.0.0.12:27777"};
  return host;
}

api::ServiceTemplate MakeTemplate(const std::string& name) {
  api::ServiceTemplate tmpl;
  tmpl.metadata.name = name;
  tmpl.spec.scene_type = "vllm";
  tmpl.spec.model_backend = "vllm";
  tmpl.spec.backend_version = "0.6.3";
  tmpl.spec.fixed_prefix = "python3 -m vllm.entrypoints.openai.api_server";
  tmpl.spec.default_envs = {{"VLLM_USE_V1", "1"}};
  return tmpl;
}

api::ServiceDeploy MakeDeploy(const std::string& namespace_, const std::string& name,
                              std::map<std::string, std::string> labels = {}) {
  api::ServiceDeploy deploy;
  deploy.metadata.namespace_ = namespace_;
  deploy.metadata.name = name;
  deploy.metadata.labels = std::move(labels);
  deploy.spec.template_ref = "vllm-0-6";
  deploy.spec.model_name = "qwen2-7b";
  deploy.spec.envs = {{"CUDA_VISIBLE_DEVICES", "0,1"}, {"OMP_NUM_THREADS", "4"}};
  deploy.spec.master.host = "gpu-01";
  deploy.spec.master.args = {{"model", "/mnt/models/qwen2-7b", std::nullopt}};
  deploy.spec.workers = {api::NodeSpec{"gpu-02", {}, {}}};
  return deploy;
}

std::vector<std::string> Names(const std::vector<api::Object>& objects) {
  std::vector<std::string> names;
  for (const api::Object& object : objects) names.push_back(api::MetaOf(object).name);
  return names;
}

class StoreTest : public ::testing::TestWithParam<sql::Dialect> {
 protected:
  void SetUp() override {
    SVCD_SKIP_UNLESS_AVAILABLE(GetParam());
    scratch_ = std::make_unique<ScratchDatabase>(GetParam());
    StoreOptions options;
    options.now_ms = [this] { return now_ms_.load(); };
    options.lease_ttl = std::chrono::seconds(15);
    options.database.reconnect_backoff = std::chrono::milliseconds(20);
    StatusOr<std::unique_ptr<Store>> store =
        OpenStore(scratch_->url().ToString(), scratch_->password(), options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    inspector_ = scratch_->Open();
    ASSERT_NE(inspector_, nullptr);
  }

  // Creates `object` and returns the stored object; fails the test on error.
  api::Object MustCreate(const api::Object& object) {
    StatusOr<WriteResult> result = store_->Create(object, kUser);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->object : object;
  }

  int CountRows(const std::string& query) {
    int count = -1;
    Status status = inspector_->Run("count", [&](soci::session& session) {
      session << query, soci::into(count);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return count;
  }

  std::string QueryText(const std::string& query) {
    std::string value;
    Status status = inspector_->Run("query", [&](soci::session& session) {
      session << query, soci::into(value);
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return value;
  }

  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Database> inspector_;
};

TEST_P(StoreTest, CreateAssignsServerFields) {
  api::Host host = MakeHost("gpu-01");
  host.metadata.uid = "chosen-by-client";
  host.metadata.generation = 7;

  StatusOr<WriteResult> created = store_->Create(host, kUser);

  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->outcome, Outcome::kCreated);
  const api::ObjectMeta& meta = api::MetaOf(created->object);
  EXPECT_EQ(meta.uid.size(), 36u);
  EXPECT_NE(meta.uid, "chosen-by-client");
  EXPECT_EQ(meta.generation, 1);
  EXPECT_EQ(meta.resource_version, "1");
  EXPECT_EQ(meta.creation_timestamp, "2023-11-14T22:13:20Z");
}

TEST_P(StoreTest, GetReturnsStoredObject) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen-tp2", {{"team", "perf"}}));

  StatusOr<api::Object> got = store_->Get({api::kKindServiceDeploy, "eval", "qwen-tp2"});

  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, created);
  EXPECT_EQ(std::get<api::ServiceDeploy>(*got).spec.envs[0].value, "0,1");
}

TEST_P(StoreTest, DeployNamespaceDefaults) {
  MustCreate(MakeDeploy("", "qwen"));

  StatusOr<api::Object> got = store_->Get({api::kKindServiceDeploy, "default", "qwen"});

  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(api::MetaOf(*got).namespace_, "default");
}

TEST_P(StoreTest, GetMissingIsNotFound) {
  StatusOr<api::Object> got = store_->Get({api::kKindHost, "", "nope"});
  StatusOr<api::Object> bad_kind = store_->Get({"Pod", "", "nope"});

  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_NE(got.status().message().find("Host nope"), std::string::npos);
  EXPECT_EQ(bad_kind.status().code(), Code::kInvalidArgument);
}

TEST_P(StoreTest, CreateDuplicateIsAlreadyExists) {
  MustCreate(MakeHost("gpu-01"));

  StatusOr<WriteResult> again = store_->Create(MakeHost("gpu-01"), kUser);

  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_NE(again.status().message().find("Host gpu-01"), std::string::npos);
}

TEST_P(StoreTest, ListFiltersByNamespaceAndLabels) {
  MustCreate(MakeDeploy("a", "one", {{"team", "perf"}}));
  MustCreate(MakeDeploy("a", "two", {{"team", "eval"}}));
  MustCreate(MakeDeploy("b", "three", {}));
  auto list = [&](const std::string& namespace_, const std::string& selector) {
    StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    ListOptions options;
    options.kind = api::kKindServiceDeploy;
    options.namespace_ = namespace_;
    options.selector = *parsed;
    StatusOr<std::vector<api::Object>> objects = store_->List(options);
    EXPECT_TRUE(objects.ok()) << objects.status().ToString();
    return objects.ok() ? Names(*objects) : std::vector<std::string>{"<error>"};
  };

  using Names = std::vector<std::string>;
  EXPECT_EQ(list("", ""), (Names{"one", "two", "three"}));
  EXPECT_EQ(list("a", ""), (Names{"one", "two"}));
  EXPECT_EQ(list("", "team=perf"), (Names{"one"}));
  EXPECT_EQ(list("", "team==perf"), (Names{"one"}));
  EXPECT_EQ(list("", "team!=perf"), (Names{"two", "three"}));
  EXPECT_EQ(list("", "team in (perf, eval)"), (Names{"one", "two"}));
  EXPECT_EQ(list("", "team notin (perf)"), (Names{"two", "three"}));
  EXPECT_EQ(list("", "team"), (Names{"one", "two"}));
  EXPECT_EQ(list("", "!team"), (Names{"three"}));
  EXPECT_EQ(list("b", "team"), Names{});
}

TEST_P(StoreTest, UpdateWithStaleVersionIsAborted) {
  api::Object created = MustCreate(MakeHost("gpu-01"));
  api::Object first = created;
  api::MetaOf(first).labels["room"] = "A3";
  ASSERT_TRUE(store_->Update(first, kUser).ok());

  api::Object stale = created;  // still carries resourceVersion 1
  api::MetaOf(stale).labels["room"] = "B1";
  StatusOr<WriteResult> result = store_->Update(stale, kUser);

  EXPECT_EQ(result.status().code(), Code::kAborted) << result.status().ToString();
  StatusOr<api::Object> got = store_->Get({api::kKindHost, "", "gpu-01"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(api::MetaOf(*got).labels.at("room"), "A3");
}

TEST_P(StoreTest, LabelChangeKeepsGeneration) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen"));
  api::Object changed = created;
  api::MetaOf(changed).labels["team"] = "perf";

  StatusOr<WriteResult> result = store_->Update(changed, kUser);

  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->outcome, Outcome::kConfigured);
  EXPECT_EQ(api::MetaOf(result->object).generation, 1);
  EXPECT_EQ(api::MetaOf(result->object).resource_version, "2");
}

TEST_P(StoreTest, SpecChangeBumpsGeneration) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen"));
  api::Object changed = created;
  std::get<api::ServiceDeploy>(changed).spec.model_name = "qwen2-72b";

  StatusOr<WriteResult> result = store_->Update(changed, kUser);

  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->outcome, Outcome::kConfigured);
  EXPECT_EQ(api::MetaOf(result->object).generation, 2);
  EXPECT_EQ(api::MetaOf(result->object).resource_version, "2");
  EXPECT_EQ(std::get<api::ServiceDeploy>(result->object).spec.model_name, "qwen2-72b");
}

TEST_P(StoreTest, ReorderedEnvsAreUnchanged) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen"));
  api::Object reordered = created;
  auto& envs = std::get<api::ServiceDeploy>(reordered).spec.envs;
  std::swap(envs[0], envs[1]);

  StatusOr<WriteResult> result = store_->Update(reordered, kUser);

  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->outcome, Outcome::kUnchanged);
  EXPECT_EQ(api::MetaOf(result->object).resource_version, "1");
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE operation_type = 'UPDATE'"), 0);
}

TEST_P(StoreTest, UpdateStatusKeepsResourceVersion) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen"));
  api::Object with_status = created;
  auto& status = std::get<api::ServiceDeploy>(with_status).status;
  status.phase = "Progressing";
  status.observed_generation = 1;
  api::TargetStatus master;
  master.name = "master";
  master.role = "master";
  master.state = "RUNNING";
  master.pid = 4242;
  status.targets = {master};

  StatusOr<api::Object> written = store_->UpdateStatus(with_status);

  ASSERT_TRUE(written.ok()) << written.status().ToString();
  StatusOr<api::Object> got = store_->Get(KeyOf(created));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(api::MetaOf(*got).resource_version, "1");
  EXPECT_EQ(std::get<api::ServiceDeploy>(*got).status, status);
  EXPECT_EQ(QueryText("SELECT phase FROM svc_deploy"), "Progressing");

  // A user's write that read the object before the status write succeeds.
  api::Object user_edit = created;
  api::MetaOf(user_edit).labels["team"] = "perf";
  StatusOr<WriteResult> edited = store_->Update(user_edit, kUser);
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_EQ(std::get<api::ServiceDeploy>(edited->object).status, status);
}

TEST_P(StoreTest, TemplateHasNoStatus) {
  api::Object created = MustCreate(MakeTemplate("vllm-0-6"));

  StatusOr<api::Object> written = store_->UpdateStatus(created);

  EXPECT_EQ(written.status().code(), Code::kInvalidArgument);
}

TEST_P(StoreTest, DeleteHostAtOnce) {
  api::Object created = MustCreate(MakeHost("gpu-01"));

  StatusOr<WriteResult> deleted = store_->Delete({api::kKindHost, "", "gpu-01"}, kUser);

  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->outcome, Outcome::kDeleted);
  EXPECT_EQ(store_->Get({api::kKindHost, "", "gpu-01"}).status().code(), Code::kNotFound);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE operation_type = 'DELETE' AND "
                      "entity_type = 'HOST' AND entity_id = '" +
                      api::MetaOf(created).uid + "'"),
            1);
  EXPECT_EQ(store_->Delete({api::kKindHost, "", "gpu-01"}, kUser).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, NewGenerationKeepsSpecAndMarksRestart) {
  api::Object created = MustCreate(MakeDeploy("eval", "qwen"));
  const ObjectKey key = KeyOf(created);

  StatusOr<WriteResult> restarted = store_->NewGeneration(key, "bob", "rollout restart");

  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  EXPECT_EQ(restarted->outcome, Outcome::kConfigured);
  StatusOr<api::Object> got = store_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(api::MetaOf(*got).generation, 2);
  EXPECT_NE(api::MetaOf(*got).resource_version, api::MetaOf(created).resource_version);
  EXPECT_EQ(api::MetaOf(*got).annotations.at(kRestartGenerationAnnotation), "2");
  EXPECT_TRUE(api::SpecEquivalent(*got, created));
  EXPECT_EQ(QueryText("SELECT remark FROM op_audit_log WHERE operator_user_id = 'bob'"),
            "rollout restart");
  // Applying the manifest again, which has no marker, keeps it.
  BatchOptions options;
  options.user = kUser;
  StatusOr<std::vector<WriteResult>> reapplied =
      store_->WriteBatch({{Write::Op::kApply, MakeDeploy("eval", "qwen")}}, options);
  ASSERT_TRUE(reapplied.ok()) << reapplied.status().ToString();
  EXPECT_EQ((*reapplied)[0].outcome, Outcome::kUnchanged);

  ASSERT_TRUE(store_->Delete(key, kUser).ok());
  StatusOr<WriteResult> gone = store_->NewGeneration(key, "bob", "rollout restart");
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
}

TEST_P(StoreTest, DeployWithFinalizerWaitsForIt) {
  api::ServiceDeploy deploy = MakeDeploy("eval", "qwen");
  deploy.metadata.finalizers = {api::kDeployFinalizer};
  api::Object created = MustCreate(deploy);
  ObjectKey key = KeyOf(created);

  StatusOr<WriteResult> deleting = store_->Delete(key, kUser);

  ASSERT_TRUE(deleting.ok()) << deleting.status().ToString();
  EXPECT_EQ(deleting->outcome, Outcome::kDeleting);
  StatusOr<api::Object> got = store_->Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(api::MetaOf(*got).deletion_timestamp, "2023-11-14T22:13:20Z");
  EXPECT_EQ(store_->Create(MakeDeploy("eval", "qwen"), kUser).status().code(),
            Code::kAlreadyExists);

  StatusOr<WriteResult> removed = store_->RemoveFinalizer(key, api::kDeployFinalizer, kUser);

  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(removed->outcome, Outcome::kDeleted);
  EXPECT_EQ(store_->Get(key).status().code(), Code::kNotFound);
  std::string uid = api::MetaOf(created).uid;
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM svc_deploy WHERE deploy_id = '" + uid +
                      "' AND data_status = 'DELETED' AND deletion_time IS NOT NULL"),
            1);
}

TEST_P(StoreTest, DeletedDeployNameCanBeReused) {
  api::Object first = MustCreate(MakeDeploy("eval", "qwen"));
  ASSERT_TRUE(store_->Delete(KeyOf(first), kUser).ok());

  api::Object second = MustCreate(MakeDeploy("eval", "qwen"));

  EXPECT_NE(api::MetaOf(second).uid, api::MetaOf(first).uid);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM svc_deploy WHERE name = 'qwen'"), 2);
  StatusOr<api::Object> got = store_->Get(KeyOf(second));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(api::MetaOf(*got).uid, api::MetaOf(second).uid);
}

TEST_P(StoreTest, FailedBatchWritesNothing) {
  std::vector<Write> writes = {
      {Write::Op::kCreate, MakeHost("gpu-01")},
      {Write::Op::kCreate, MakeTemplate("vllm-0-6")},
      {Write::Op::kCreate, MakeHost("gpu-01")},  // fails: the first write created it
  };
  BatchOptions options;
  options.user = kUser;
  options.apply_set = "team-a";

  StatusOr<std::vector<WriteResult>> results = store_->WriteBatch(writes, options);

  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), Code::kAlreadyExists);
  EXPECT_NE(results.status().message().find("Host gpu-01"), std::string::npos);
  EXPECT_EQ(store_->Get({api::kKindHost, "", "gpu-01"}).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Get({api::kKindServiceTemplate, "", "vllm-0-6"}).status().code(),
            Code::kNotFound);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log"), 0);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM apply_set_member"), 0);
}

TEST_P(StoreTest, FailedUpdateInBatchWritesNothing) {
  std::vector<Write> writes = {
      {Write::Op::kApply, MakeHost("gpu-01")},
      {Write::Op::kUpdate, MakeDeploy("eval", "missing")},
  };

  StatusOr<std::vector<WriteResult>> results = store_->WriteBatch(writes, {});

  EXPECT_EQ(results.status().code(), Code::kNotFound);
  EXPECT_NE(results.status().message().find("ServiceDeploy eval/missing"), std::string::npos);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM env_host"), 0);
}

TEST_P(StoreTest, BatchWritesAuditRows) {
  api::Object host = MustCreate(MakeHost("gpu-01"));
  api::MetaOf(host).labels["room"] = "A3";
  BatchOptions options;
  options.user = "bob";

  StatusOr<std::vector<WriteResult>> results = store_->WriteBatch(
      {{Write::Op::kApply, host}, {Write::Op::kApply, MakeTemplate("vllm-0-6")}}, options);

  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].outcome, Outcome::kConfigured);
  EXPECT_EQ((*results)[1].outcome, Outcome::kCreated);
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM op_audit_log WHERE operator_user_id = 'bob'"), 2);
  EXPECT_EQ(QueryText("SELECT changed_fields FROM op_audit_log WHERE operation_type = 'UPDATE'"),
            R"(["metadata.labels"])");
  std::string before =
      QueryText("SELECT old_data FROM op_audit_log WHERE operation_type = 'UPDATE'");
  std::string after =
      QueryText("SELECT new_data FROM op_audit_log WHERE operation_type = 'UPDATE'");
  EXPECT_EQ(before.find("A3"), std::string::npos) << before;
  EXPECT_NE(after.find("A3"), std::string::npos) << after;
  EXPECT_EQ(QueryText("SELECT entity_type FROM op_audit_log WHERE entity_name = 'vllm-0-6'"),
            "TEMPLATE");
}

TEST_P(StoreTest, ApplySetRecordsMembers) {
  BatchOptions options;
  options.user = kUser;
  options.apply_set = "team-a";
  StatusOr<std::vector<WriteResult>> results = store_->WriteBatch(
      {{Write::Op::kApply, MakeHost("gpu-01")}, {Write::Op::kApply, MakeDeploy("eval", "qwen")}},
      options);
  ASSERT_TRUE(results.ok()) << results.status().ToString();

  StatusOr<std::vector<ApplySetMember>> members = store_->ListApplySet("team-a");

  ASSERT_TRUE(members.ok()) << members.status().ToString();
  std::vector<ApplySetMember> expected = {
      {api::kKindHost, "", "gpu-01", api::MetaOf((*results)[0].object).uid},
      {api::kKindServiceDeploy, "eval", "qwen", api::MetaOf((*results)[1].object).uid}};
  EXPECT_EQ(*members, expected);
  EXPECT_TRUE(store_->ListApplySet("other")->empty());

  ASSERT_TRUE(store_->RemoveApplySetMember("team-a", {api::kKindHost, "", "gpu-01"}).ok());
  ASSERT_TRUE(store_->WriteBatch({{Write::Op::kDelete, MakeDeploy("eval", "qwen")}}, options).ok());
  EXPECT_TRUE(store_->ListApplySet("team-a")->empty());
}

TEST_P(StoreTest, FindsDeploysByHostAndTemplate) {
  MustCreate(MakeDeploy("eval", "uses-both"));
  api::ServiceDeploy other = MakeDeploy("eval", "other");
  other.spec.template_ref = "sglang";
  other.spec.master.host = "gpu-09";
  other.spec.workers.clear();
  MustCreate(other);

  StatusOr<std::vector<ObjectKey>> by_worker_host = store_->DeploysUsingHost("gpu-02");
  StatusOr<std::vector<ObjectKey>> by_master_host = store_->DeploysUsingHost("gpu-09");
  StatusOr<std::vector<ObjectKey>> by_template = store_->DeploysUsingTemplate("vllm-0-6");
  StatusOr<std::vector<ObjectKey>> unused = store_->DeploysUsingHost("gpu-77");

  ASSERT_TRUE(by_worker_host.ok());
  ASSERT_TRUE(by_master_host.ok());
  ASSERT_TRUE(by_template.ok());
  ASSERT_TRUE(unused.ok());
  ObjectKey uses_both{api::kKindServiceDeploy, "eval", "uses-both"};
  EXPECT_EQ(*by_worker_host, std::vector<ObjectKey>{uses_both});
  EXPECT_EQ(*by_master_host, (std::vector<ObjectKey>{{api::kKindServiceDeploy, "eval", "other"}}));
  EXPECT_EQ(*by_template, std::vector<ObjectKey>{uses_both});
  EXPECT_TRUE(unused->empty());
}

TEST_P(StoreTest, DeploysRecordTemplateId) {
  api::Object tmpl = MustCreate(MakeTemplate("vllm-0-6"));
  MustCreate(MakeDeploy("eval", "qwen"));

  EXPECT_EQ(QueryText("SELECT template_id FROM svc_deploy"), api::MetaOf(tmpl).uid);
  ASSERT_TRUE(store_->Delete(KeyOf(tmpl), kUser).ok());
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM svc_deploy WHERE template_id IS NULL"), 1);
}

TEST_P(StoreTest, LeaseIsExclusiveUntilExpiry) {
  StatusOr<Lease> first = store_->AcquireLease("svcd-a");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->version, 1);

  StatusOr<Lease> blocked = store_->AcquireLease("svcd-b");
  EXPECT_EQ(blocked.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(blocked.status().message().find("svcd-a"), std::string::npos);

  now_ms_ += 10'000;
  ASSERT_TRUE(store_->RenewLease("svcd-a").ok());
  now_ms_ += 10'000;  // 10 s after the renewal: still held
  EXPECT_EQ(store_->AcquireLease("svcd-b").status().code(), Code::kFailedPrecondition);

  now_ms_ += 6'000;  // 16 s after the renewal: expired
  StatusOr<Lease> taken = store_->AcquireLease("svcd-b");
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->holder, "svcd-b");
  EXPECT_EQ(taken->version, 2);

  StatusOr<Lease> lost = store_->RenewLease("svcd-a");
  EXPECT_EQ(lost.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(lost.status().message().find("svcd-b"), std::string::npos);

  ASSERT_TRUE(store_->ReleaseLease("svcd-a").ok());  // not the holder: no effect
  EXPECT_EQ(store_->AcquireLease("svcd-a").status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(store_->ReleaseLease("svcd-b").ok());
  EXPECT_TRUE(store_->AcquireLease("svcd-a").ok());
}

TEST_P(StoreTest, LeaseReacquireBySameHolderKeepsVersion) {
  ASSERT_TRUE(store_->AcquireLease("svcd-a").ok());
  now_ms_ += 1'000;

  StatusOr<Lease> again = store_->AcquireLease("svcd-a");

  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, 1);
  EXPECT_EQ(again->renewed_ms, now_ms_.load());
}

TEST_P(StoreTest, EventsListPerObjectInOrder) {
  Event event;
  event.object_uid = "uid-1";
  event.object_kind = api::kKindServiceDeploy;
  event.object_namespace = "eval";
  event.object_name = "qwen";
  event.type = "Normal";
  event.reason = "Dispatched";
  event.message = "master dispatched to gpu-01";
  ASSERT_TRUE(store_->AppendEvent(event).ok());
  Event other = event;
  other.object_uid = "uid-2";
  ASSERT_TRUE(store_->AppendEvent(other).ok());
  now_ms_ += 500;
  event.type = "Warning";
  event.reason = "ProbeFailed";
  StatusOr<Event> second = store_->AppendEvent(event);
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  StatusOr<std::vector<Event>> events = store_->ListEvents("uid-1");

  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].reason, "Dispatched");
  EXPECT_EQ((*events)[1].reason, "ProbeFailed");
  EXPECT_EQ((*events)[1].id, second->id);
  EXPECT_LT((*events)[0].id, (*events)[1].id);
  EXPECT_EQ((*events)[1].time_ms, now_ms_.load());
  EXPECT_EQ((*events)[0].object_namespace, "eval");
}

TEST_P(StoreTest, RepeatedEventIsCountedInOneRow) {
  Event event;
  event.object_uid = "uid-1";
  event.object_kind = api::kKindServiceDeploy;
  event.object_namespace = "eval";
  event.object_name = "qwen";
  event.type = "Warning";
  event.reason = "StopFailed";
  event.message = "worker-0: PowerJob at http://127.0.0.1:1 cannot be reached";
  const int64_t first = now_ms_.load();
  ASSERT_TRUE(store_->AppendEvent(event).ok());
  Event ready = event;
  ready.type = "Normal";
  ready.reason = "TargetReady";
  ready.message = "master is ready";
  now_ms_ += 1000;
  ASSERT_TRUE(store_->AppendEvent(ready).ok());
  now_ms_ += 1000;
  StatusOr<Event> repeat = store_->AppendEvent(event);
  ASSERT_TRUE(repeat.ok()) << repeat.status().ToString();
  EXPECT_EQ(repeat->count, 2);
  EXPECT_EQ(repeat->first_time_ms, first);

  // The repeat moves to the end, with its first and newest times.
  StatusOr<std::vector<Event>> events = store_->ListEvents("uid-1");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].reason, "TargetReady");
  EXPECT_EQ((*events)[0].count, 1);
  EXPECT_EQ((*events)[1].reason, "StopFailed");
  EXPECT_EQ((*events)[1].count, 2);
  EXPECT_EQ((*events)[1].first_time_ms, first);
  EXPECT_EQ((*events)[1].time_ms, now_ms_.load());
  EXPECT_EQ((*events)[1].id, repeat->id);

  // Another message, or the same one after the repeat window, is a new row.
  Event other = event;
  other.message = "worker-1: PowerJob at http://127.0.0.1:1 cannot be reached";
  ASSERT_TRUE(store_->AppendEvent(other).ok());
  now_ms_ += kEventRepeatWindowMs + 1;
  StatusOr<Event> late = store_->AppendEvent(event);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->count, 1);
  StatusOr<std::vector<Event>> recent = store_->ListRecentEvents("eval", 10);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  EXPECT_EQ(recent->size(), 4u);
  EXPECT_EQ(recent->back().count, 1);
}

TEST_P(StoreTest, EventMessageIsStoredAsValidUtf8) {
  Event event;
  event.object_uid = "uid-1";
  event.object_kind = api::kKindServiceDeploy;
  event.object_name = "qwen";
  event.type = "Warning";
  event.reason = "StopFailed";
  event.message = std::string("output: \xa4\xff ok");
  StatusOr<Event> stored = store_->AppendEvent(event);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  StatusOr<std::vector<Event>> events = store_->ListEvents("uid-1");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].message, "output: \xef\xbf\xbd\xef\xbf\xbd ok");
}

TEST_P(StoreTest, EventWithUnknownTypeIsRejected) {
  Event event;
  event.object_uid = "uid-1";
  event.reason = "Odd";
  event.type = "Error";

  StatusOr<Event> result = store_->AppendEvent(event);

  EXPECT_EQ(result.status().code(), Code::kInvalidArgument);
}

TEST_P(StoreTest, PingSucceeds) { EXPECT_TRUE(store_->Ping().ok()); }

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(sql::Dialect::kSqlite, sql::Dialect::kMysql),
                         ::svcd::testing::ParamName);

}  // namespace
}  // namespace svcd::store
