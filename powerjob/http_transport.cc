#include "powerjob/http_transport.h"

#include <cpprest/http_client.h>

#include <cerrno>
#include <future>
#include <memory>

namespace svcd::powerjob {
namespace {

namespace http = web::http;

// Sorts a cpprestsdk failure. cpprestsdk 2.10 (asio client) reports a failed
// connect as "Failed to connect to any resolved endpoint" (a refusal with
// EHOSTUNREACH), a failed lookup as "Failed to resolve address", its own
// timer as ETIMEDOUT in any phase, a close before the status line as "Failed
// to read HTTP status line", and a break in the body as "Failed to read
// response body".
PostOutcome Classify(const http::http_exception& error) {
  const std::string what = error.what();
  if (error.error_code().value() == ETIMEDOUT) return PostOutcome::kTimedOut;
  if (what.rfind("Failed to connect", 0) == 0 || what.rfind("Failed to resolve", 0) == 0) {
    return PostOutcome::kNotSent;
  }
  if (what.rfind("Failed to read HTTP status line", 0) == 0 ||
      what.rfind("Failed to write", 0) == 0) {
    return PostOutcome::kNoAnswer;
  }
  return PostOutcome::kBrokenAnswer;
}

std::string Describe(const http::http_exception& error) {
  std::string text = error.what();
  const std::string reason = error.error_code().message();
  if (!reason.empty() && text.find(reason) == std::string::npos) text += " (" + reason + ")";
  return text;
}

HttpAnswer Failure(PostOutcome outcome, std::string error) {
  HttpAnswer answer;
  answer.outcome = outcome;
  answer.error = std::move(error);
  return answer;
}

HttpAnswer Answered(http::http_response& response, std::string body) {
  HttpAnswer answer;
  answer.outcome = PostOutcome::kAnswered;
  answer.status = response.status_code();
  answer.body = std::move(body);
  for (const auto& [name, value] : response.headers()) {
    answer.headers.emplace_back(name, value);
  }
  return answer;
}

}  // namespace

HttpAnswer Post(const HttpPost& post) {
  const std::string timeout_text = std::to_string(post.timeout.count()) + " ms";
  try {
    http::client::http_client_config config;
    config.set_timeout(post.timeout);
    http::client::http_client client(post.base_url, config);
    http::http_request request(http::methods::POST);
    request.set_request_uri(post.path);
    for (const auto& [name, value] : post.headers) request.headers().add(name, value);
    request.headers().add("Accept", "application/json");
    request.set_body(post.body, post.content_type);

    // cpprestsdk's timer restarts whenever bytes arrive, so a server that
    // trickles its response could hold the call longer; a cancellation at the
    // deadline bounds the whole call.
    pplx::cancellation_token_source cancel;
    std::promise<void> finished;
    std::future<void> finished_future = finished.get_future();
    auto response = std::make_shared<http::http_response>();
    pplx::task<std::string> task =
        client.request(request, cancel.get_token()).then([response](http::http_response reply) {
          *response = reply;
          return reply.extract_utf8string(/*ignore_content_type=*/true);
        });
    auto signal = task.then([&finished](pplx::task<std::string>) { finished.set_value(); });
    bool cancelled = false;
    if (finished_future.wait_for(post.timeout) != std::future_status::ready) {
      cancel.cancel();
      cancelled = true;
      finished_future.wait();
    }
    signal.wait();
    try {
      std::string body = task.get();
      return Answered(*response, std::move(body));
    } catch (const pplx::task_canceled&) {
      return Failure(PostOutcome::kTimedOut, "no whole response within " + timeout_text);
    } catch (const http::http_exception& error) {
      if (cancelled) {
        return Failure(PostOutcome::kTimedOut, "no whole response within " + timeout_text);
      }
      const PostOutcome outcome = Classify(error);
      if (outcome == PostOutcome::kTimedOut) {
        return Failure(outcome, "no whole response within " + timeout_text);
      }
      return Failure(outcome, Describe(error));
    }
  } catch (const std::exception& error) {
    // A malformed URL or header fails before anything is sent.
    return Failure(PostOutcome::kNotSent, std::string("invalid request: ") + error.what());
  }
}

}  // namespace svcd::powerjob
