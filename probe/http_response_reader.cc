#include "probe/http_response_reader.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "probe/text.h"

namespace svcd::probe {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool ParseDecimal(std::string_view text, std::uint64_t* value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

// Returns the last comma-separated item of a Transfer-Encoding value.
std::string LastCoding(std::string_view value) {
  std::size_t comma = value.rfind(',');
  if (comma != std::string_view::npos) value = value.substr(comma + 1);
  return ToLower(Trim(value));
}

}  // namespace

HttpResponseReader::HttpResponseReader(std::string keyword, std::size_t max_body_bytes)
    : keyword_(std::move(keyword)), max_body_bytes_(max_body_bytes) {}

void HttpResponseReader::Fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
}

void HttpResponseReader::Complete() {
  phase_ = Phase::kEnd;
  state_ = State::kDone;
}

bool HttpResponseReader::TakeLine(std::string_view& data, std::size_t limit) {
  std::size_t newline = data.find('\n');
  std::size_t take = newline == std::string_view::npos ? data.size() : newline;
  if (line_.size() + take > limit) {
    Fail("line longer than " + std::to_string(limit) + " bytes in the response");
    return false;
  }
  line_.append(data.substr(0, take));
  data.remove_prefix(newline == std::string_view::npos ? take : take + 1);
  if (newline == std::string_view::npos) return false;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

void HttpResponseReader::HandleStatusLine(std::string_view line) {
  // "HTTP/1.x SP 3DIGIT [SP reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    Fail("the response does not start with an HTTP/1.x status line: " + Quote(line, 80));
    return;
  }
  std::uint64_t code = 0;
  if (!ParseDecimal(line.substr(9, 3), &code) || code < 100 || code > 999) {
    Fail("invalid status code in " + Quote(line, 80));
    return;
  }
  status_ = static_cast<int>(code);
  phase_ = Phase::kHeaders;
}

void HttpResponseReader::HandleHeaderLine(std::string_view line) {
  if (line.empty()) {
    EndHeaders();
    return;
  }
  if (line.front() == ' ' || line.front() == '\t') {
    Fail("folded header line in the response, which HTTP/1.1 forbids");
    return;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || line[colon - 1] == ' ' ||
      line[colon - 1] == '\t') {
    Fail("invalid header line in the response: " + Quote(line, 80));
    return;
  }
  std::string name = ToLower(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  if (name == "content-length") {
    std::uint64_t length = 0;
    if (!ParseDecimal(value, &length) || (has_length_ && length != content_length_)) {
      Fail("invalid or conflicting Content-Length " + Quote(value, 40));
      return;
    }
    has_length_ = true;
    content_length_ = length;
  } else if (name == "transfer-encoding") {
    chunked_ = LastCoding(value) == "chunked";
  } else if (name == "location") {
    location_ = std::string(value);
  }
}

void HttpResponseReader::EndHeaders() {
  if (status_ >= 100 && status_ < 200) {
    if (status_ == 101) {
      Fail("the server switched protocols (101), which a probe cannot follow");
      return;
    }
    // An interim response: the final one follows.
    status_ = 0;
    has_length_ = false;
    chunked_ = false;
    location_.clear();
    phase_ = Phase::kStatusLine;
    return;
  }
  headers_done_ = true;
  if (status_ == 204 || status_ == 304) {
    Complete();
  } else if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (has_length_) {
    remaining_ = content_length_;
    phase_ = Phase::kBodyLength;
    if (remaining_ == 0) Complete();
  } else {
    phase_ = Phase::kBodyUntilClose;
  }
}

void HttpResponseReader::HandleChunkSizeLine(std::string_view line) {
  std::size_t end = line.find(';');  // chunk extensions follow a ';'
  std::string_view digits = Trim(line.substr(0, end));
  std::uint64_t size = 0;
  auto [ptr, error] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
  if (digits.empty() || error != std::errc() || ptr != digits.data() + digits.size()) {
    Fail("invalid chunk size line " + Quote(line, 40) + " in a chunked body");
    return;
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
    return;
  }
  remaining_ = size;
  phase_ = Phase::kChunkData;
}

std::size_t HttpResponseReader::TakeBody(std::string_view data, std::uint64_t limit) {
  std::uint64_t room = max_body_bytes_ - body_bytes_;
  std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>({data.size(), limit, room}));
  std::string_view piece = data.substr(0, take);
  body_bytes_ += take;
  if (body_prefix_.size() < kBodyPrefixBytes) {
    body_prefix_.append(piece.substr(0, kBodyPrefixBytes - body_prefix_.size()));
  }
  if (!keyword_.empty() && !keyword_found_ && take > 0) {
    // Search the tail of earlier pieces together with this one, so a keyword
    // split across reads or chunks is still found.
    std::string window = keyword_tail_;
    window.append(piece);
    keyword_found_ = window.find(keyword_) != std::string::npos;
    std::size_t keep = std::min(window.size(), keyword_.size() - 1);
    keyword_tail_ = window.substr(window.size() - keep);
  }
  if (body_bytes_ >= max_body_bytes_) {
    body_cut_ = true;
    Complete();
  }
  return take;
}

HttpResponseReader::State HttpResponseReader::Consume(std::string_view data) {
  while (state_ == State::kNeedMore && !data.empty()) {
    switch (phase_) {
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kTrailers: {
        std::size_t before = data.size();
        bool whole = TakeLine(data, kMaxHeaderBytes - std::min(header_bytes_, kMaxHeaderBytes));
        header_bytes_ += before - data.size();
        if (!whole) break;
        std::string line = std::move(line_);
        line_.clear();
        if (phase_ == Phase::kStatusLine) {
          HandleStatusLine(line);
        } else if (phase_ == Phase::kHeaders) {
          HandleHeaderLine(line);
        } else if (line.empty()) {
          Complete();  // the empty line after the trailers
        }
        break;
      }
      case Phase::kChunkSize:
        if (TakeLine(data, kMaxChunkLineBytes)) {
          std::string line = std::move(line_);
          line_.clear();
          HandleChunkSizeLine(line);
        }
        break;
      case Phase::kChunkData:
      case Phase::kBodyLength: {
        std::size_t taken = TakeBody(data, remaining_);
        data.remove_prefix(taken);
        remaining_ -= taken;
        if (remaining_ == 0 && state_ == State::kNeedMore) {
          if (phase_ == Phase::kBodyLength) {
            Complete();
          } else {
            phase_ = Phase::kChunkDataEnd;
          }
        }
        break;
      }
      case Phase::kChunkDataEnd:
        // The CRLF after a chunk's data: an empty line.
        if (TakeLine(data, 2)) {
          bool empty = line_.empty();
          line_.clear();
          if (!empty) {
            Fail("chunk data longer than its chunk size");
          } else {
            phase_ = Phase::kChunkSize;
          }
        }
        break;
      case Phase::kBodyUntilClose:
        data.remove_prefix(TakeBody(data, data.size()));
        break;
      case Phase::kEnd:
        return state_;
    }
  }
  return state_;
}

HttpResponseReader::State HttpResponseReader::Finish() {
  if (state_ != State::kNeedMore) return state_;
  if (phase_ == Phase::kBodyUntilClose) {
    Complete();
  } else if (!headers_done_) {
    Fail(status_ == 0 && header_bytes_ == 0 ? "the connection closed without a response"
                                            : "the connection closed inside the response headers");
  } else if (phase_ == Phase::kBodyLength) {
    Fail("the connection closed after " + std::to_string(body_bytes_) + " of " +
         std::to_string(content_length_) + " body bytes");
  } else {
    Fail("the connection closed before the chunked body ended");
  }
  return state_;
}

}  // namespace svcd::probe
