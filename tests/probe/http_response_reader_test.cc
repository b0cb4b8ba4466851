// Tests of HttpResponseReader, feeding responses in every possible split so
// that framing and the keyword search are checked across read boundaries.

#include "probe/http_response_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace svcd::probe {
namespace {

using State = HttpResponseReader::State;

constexpr std::size_t kMiB = 1024 * 1024;

// Feeds `bytes` split once at `split`, then ends the stream when the reader
// still wants more.
State FeedSplit(HttpResponseReader& reader, const std::string& bytes, std::size_t split) {
  reader.Consume(std::string_view(bytes).substr(0, split));
  reader.Consume(std::string_view(bytes).substr(split));
  if (reader.state() == State::kNeedMore) reader.Finish();
  return reader.state();
}

TEST(HttpResponseReaderTest, ContentLengthBodyEndsWithoutClose) {
  HttpResponseReader reader("", kMiB);
  State state = reader.Consume("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");

  EXPECT_EQ(state, State::kDone);
  EXPECT_EQ(reader.status(), 200);
  EXPECT_EQ(reader.body_bytes(), 5u);
  EXPECT_EQ(reader.body_prefix(), "hello");
}

TEST(HttpResponseReaderTest, ChunkedKeywordFoundAtEverySplit) {
  // "France" is split across the two chunks and the chunk framing.
  std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "9;ext=1\r\nParis, Fr\r\n6\r\nance.\n\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t split = 0; split <= response.size(); ++split) {
    HttpResponseReader reader("France", kMiB);
    ASSERT_EQ(FeedSplit(reader, response, split), State::kDone) << "split " << split;
    EXPECT_TRUE(reader.keyword_found()) << "split " << split;
    EXPECT_EQ(reader.body_prefix(), "Paris, France.\n") << "split " << split;
  }
}

TEST(HttpResponseReaderTest, ByteByByteFeedFindsKeyword) {
  std::string response = "HTTP/1.0 200 OK\r\n\r\nthe capital of France";
  HttpResponseReader reader("France", kMiB);
  for (char c : response) reader.Consume(std::string_view(&c, 1));

  EXPECT_EQ(reader.state(), State::kNeedMore);  // framed by the close
  EXPECT_EQ(reader.Finish(), State::kDone);
  EXPECT_TRUE(reader.keyword_found());
}

TEST(HttpResponseReaderTest, ChunkFramingIsNotSearched) {
  // The keyword occurs only in the chunk framing, never in the body.
  std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
  HttpResponseReader reader("\r\n0", kMiB);
  EXPECT_EQ(reader.Consume(response), State::kDone);
  EXPECT_FALSE(reader.keyword_found());
  EXPECT_EQ(reader.body_bytes(), 1u);
}

TEST(HttpResponseReaderTest, BodyCutAtLimit) {
  HttpResponseReader reader("needle", 10);
  State state = reader.Consume("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789needle");

  EXPECT_EQ(state, State::kDone);
  EXPECT_TRUE(reader.body_cut());
  EXPECT_EQ(reader.body_bytes(), 10u);
  EXPECT_FALSE(reader.keyword_found());
}

TEST(HttpResponseReaderTest, InterimResponseSkipped) {
  HttpResponseReader reader("", kMiB);
  reader.Consume("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");

  EXPECT_EQ(reader.state(), State::kDone);
  EXPECT_EQ(reader.status(), 204);
}

TEST(HttpResponseReaderTest, RedirectLocationKept) {
  HttpResponseReader reader("", kMiB);
  reader.Consume("HTTP/1.1 302 Found\r\nLocation: /health\r\nContent-Length: 0\r\n\r\n");

  EXPECT_EQ(reader.state(), State::kDone);
  EXPECT_EQ(reader.status(), 302);
  EXPECT_EQ(reader.location(), "/health");
}

TEST(HttpResponseReaderTest, TransferEncodingWinsOverContentLength) {
  HttpResponseReader reader("", kMiB);
  reader.Consume(
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nabcd\r\n0\r\n\r\n");

  EXPECT_EQ(reader.state(), State::kDone);
  EXPECT_EQ(reader.body_bytes(), 4u);
}

TEST(HttpResponseReaderTest, RejectsMalformedResponses) {
  const std::string kCases[] = {
      "SSH-2.0-OpenSSH_9.2\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: value\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
  };
  for (const std::string& response : kCases) {
    HttpResponseReader reader("", kMiB);
    EXPECT_EQ(reader.Consume(response), State::kError) << response;
    EXPECT_FALSE(reader.error().empty()) << response;
  }
}

TEST(HttpResponseReaderTest, RejectsOversizedHeaders) {
  HttpResponseReader reader("", kMiB);
  std::string header = "X-Big: " + std::string(HttpResponseReader::kMaxHeaderBytes, 'a');
  EXPECT_EQ(reader.Consume("HTTP/1.1 200 OK\r\n" + header), State::kError);
}

TEST(HttpResponseReaderTest, EarlyCloseIsAnError) {
  HttpResponseReader short_body("", kMiB);
  short_body.Consume("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(short_body.Finish(), State::kError);
  EXPECT_NE(short_body.error().find("3 of 10"), std::string::npos) << short_body.error();

  HttpResponseReader nothing("", kMiB);
  EXPECT_EQ(nothing.Finish(), State::kError);
  EXPECT_EQ(nothing.error(), "the connection closed without a response");

  HttpResponseReader open_chunked("", kMiB);
  open_chunked.Consume("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  EXPECT_EQ(open_chunked.Finish(), State::kError);
}

}  // namespace
}  // namespace svcd::probe
