// HttpResponseReader: an incremental HTTP/1.x response parser for probes.

#ifndef SVCD_PROBE_HTTP_RESPONSE_READER_H_
#define SVCD_PROBE_HTTP_RESPONSE_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace svcd::probe {

// Parses one HTTP/1.x response from bytes fed in pieces of any size, as
// they come off a socket. It frames the body as RFC 9112 section 6 defines:
// chunked when the last transfer coding is chunked, else Content-Length,
// else until the connection closes. Interim 1xx responses are skipped.
//
// The body itself is not stored. The reader counts it, keeps its first
// kBodyPrefixBytes for messages, and searches it for a keyword, finding the
// keyword also when it spans two pieces or two chunks. It stops taking body
// bytes once `max_body_bytes` arrived and reports the body as cut.
//
// Limits: the status line and header section together may be at most
// kMaxHeaderBytes, and one chunk-size line at most kMaxChunkLineBytes.
class HttpResponseReader {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr std::size_t kMaxChunkLineBytes = 1024;
  static constexpr std::size_t kBodyPrefixBytes = 256;

  enum class State {
    kNeedMore,  // feed more bytes, or call Finish() at end of stream
    kDone,      // the response ended, or the body reached max_body_bytes
    kError,     // the bytes are not a valid response; see error()
  };

  // An empty `keyword` disables the search.
  HttpResponseReader(std::string keyword, std::size_t max_body_bytes);

  // Consumes `data`. Bytes after the end of the response are ignored. Once the
  // state is kDone or kError, further calls change nothing.
  State Consume(std::string_view data);

  // Tells the reader that the peer closed the connection. A body framed by
  // the close ends here, and anything else unfinished becomes kError.
  State Finish();

  State state() const { return state_; }
  // The error of state kError, such as "invalid chunk size line".
  const std::string& error() const { return error_; }
  // True once a final (non-1xx) status line and its header section are read.
  bool headers_done() const { return headers_done_; }
  int status() const { return status_; }
  // The Location header of the final response; empty when absent.
  const std::string& location() const { return location_; }
  // Body bytes received so far (after removing chunked framing).
  std::uint64_t body_bytes() const { return body_bytes_; }
  // True when the body reached max_body_bytes and the rest was not read.
  bool body_cut() const { return body_cut_; }
  const std::string& body_prefix() const { return body_prefix_; }
  bool keyword_found() const { return keyword_found_; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kBodyUntilClose,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kEnd,
  };

  // Takes one line (without its LF) from the front of `data` into line_.
  // Returns false when `data` ended before the LF.
  bool TakeLine(std::string_view& data, std::size_t limit);
  void HandleStatusLine(std::string_view line);
  void HandleHeaderLine(std::string_view line);
  void EndHeaders();
  void HandleChunkSizeLine(std::string_view line);
  // Takes body bytes from the front of `data`, at most `limit` of them.
  std::size_t TakeBody(std::string_view data, std::uint64_t limit);
  void Fail(std::string message);
  void Complete();

  const std::string keyword_;
  const std::size_t max_body_bytes_;

  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kStatusLine;
  std::string error_;
  std::string line_;  // the partial line being read
  std::size_t header_bytes_ = 0;
  int status_ = 0;
  bool headers_done_ = false;
  bool chunked_ = false;
  bool has_length_ = false;
  std::uint64_t content_length_ = 0;
  std::uint64_t remaining_ = 0;  // of the Content-Length body or current chunk
  std::string location_;
  std::uint64_t body_bytes_ = 0;
  bool body_cut_ = false;
  std::string body_prefix_;
  bool keyword_found_ = false;
  std::string keyword_tail_;  // last keyword size - 1 body bytes
};

}  // namespace svcd::probe

#endif  // SVCD_PROBE_HTTP_RESPONSE_READER_H_
