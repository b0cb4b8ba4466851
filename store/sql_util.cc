#include "store/sql_util.h"

#include <soci/soci.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>

namespace svcd::store {

void Execute(soci::session& session, const std::string& sql, const std::vector<SqlValue>& values,
             long long* affected) {
  // SOCI keeps pointers to the bound variables, so they live in deques that
  // never move their elements.
  std::deque<std::string> texts;
  std::deque<long long> numbers;
  std::deque<soci::indicator> indicators;
  soci::statement statement(session);
  for (const SqlValue& value : values) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      texts.push_back(*text);
      indicators.push_back(soci::i_ok);
      statement.exchange(soci::use(texts.back(), indicators.back()));
    } else if (const auto* number = std::get_if<long long>(&value)) {
      numbers.push_back(*number);
      indicators.push_back(soci::i_ok);
      statement.exchange(soci::use(numbers.back(), indicators.back()));
    } else {
      texts.emplace_back();
      indicators.push_back(soci::i_null);
      statement.exchange(soci::use(texts.back(), indicators.back()));
    }
  }
  statement.alloc();
  statement.prepare(sql);
  statement.define_and_bind();
  statement.execute(true);
  if (affected != nullptr) *affected = statement.get_affected_rows();
}

std::string NewUuid() {
  static std::mutex mutex;
  static std::mt19937_64 random(std::random_device{}());
  uint64_t high, low;
  {
    std::lock_guard<std::mutex> lock(mutex);
    high = random();
    low = random();
  }
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xffff),
                static_cast<unsigned>(high & 0xffff), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* LockingRead(sql::Dialect dialect) {
  return dialect == sql::Dialect::kMysql ? " FOR UPDATE" : "";
}

void InsertAuditRow(soci::session& session, const AuditRow& row) {
  Execute(session,
          "INSERT INTO op_audit_log (audit_id, entity_type, entity_id, entity_namespace, "
          "entity_name, operation_type, operator_user_id, changed_fields, old_data, new_data, "
          "remark, op_time) VALUES (:a, :b, :c, :d, :e, :f, :g, :h, :i, :j, :k, :l)",
          {NewUuid(), row.entity_type, row.entity_id, row.entity_namespace, row.entity_name,
           row.operation, row.user, row.changed_fields, row.old_data, row.new_data, row.remark,
           static_cast<long long>(row.time_ms)});
}

}  // namespace svcd::store
