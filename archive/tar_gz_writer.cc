#include "archive/tar_gz_writer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace svcd::archive {
namespace {

constexpr size_t kBlockBytes = 512;
// tar readers expect the archive to end on a whole record of 20 blocks.
constexpr int64_t kRecordBytes = 20 * kBlockBytes;
// The largest size an 11-digit octal field holds: 8 GiB - 1.
constexpr int64_t kMaxEntryBytes = 077777777777LL;
constexpr size_t kChunkBytes = 64 * 1024;

std::string Hex(const unsigned char* bytes, size_t length) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (size_t i = 0; i < length; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string DigestHex(const EVP_MD* type, std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, type, nullptr);
  return Hex(digest, length);
}

// Writes `value` as zero-padded octal into `field` of `width` bytes, the
// last of which is NUL.
void PutOctal(char* field, size_t width, int64_t value) {
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && value > 0; value >>= 3) digits[i] = '0' + (value & 7);
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

// Splits `name` into the ustar prefix and name fields, or fails.
StatusOr<std::pair<std::string, std::string>> SplitName(const std::string& name) {
  if (name.size() <= 100) return std::make_pair(std::string(), name);
  // Split at the last '/' that leaves at most 155 bytes before it and at
  // most 100 after it.
  for (size_t slash = name.rfind('/'); slash != std::string::npos && slash > 0;
       slash = name.rfind('/', slash - 1)) {
    if (name.size() - slash - 1 > 100) break;
    if (slash <= 155) return std::make_pair(name.substr(0, slash), name.substr(slash + 1));
  }
  return Status::InvalidArgument("tar entry name \"" + name +
                                 "\" does not fit the ustar format: use at most 100 bytes after "
                                 "the last '/' and 255 in all");
}

Status ValidateName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("tar entry name \"" + name +
                                   "\" is invalid: use a non-empty relative path without NUL");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view segment(name.data() + start, end - start);
    if (segment == "." || segment == ".." || (segment.empty() && end != name.size())) {
      return Status::InvalidArgument("tar entry name \"" + name +
                                     "\" has an empty, \".\" or \"..\" segment");
    }
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace

struct TarGzWriter::State {
  std::string path;
  int fd = -1;
  z_stream zlib{};
  bool zlib_ready = false;
  EVP_MD_CTX* md5 = nullptr;
  EVP_MD_CTX* sha256 = nullptr;
  int64_t tar_bytes = 0;   // uncompressed bytes written so far
  int64_t file_bytes = 0;  // compressed bytes written so far
  bool finished = false;
  std::vector<unsigned char> out = std::vector<unsigned char>(kChunkBytes);

  ~State() {
    if (zlib_ready) deflateEnd(&zlib);
    if (fd >= 0) close(fd);
    EVP_MD_CTX_free(md5);
    EVP_MD_CTX_free(sha256);
  }
};

StatusOr<std::unique_ptr<TarGzWriter>> TarGzWriter::Create(const std::string& path) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (state->fd < 0) {
    return Status::Internal("cannot create archive file " + path + ": " + std::strerror(errno));
  }
  // windowBits 15 + 16 makes zlib write a gzip header and trailer.
  if (deflateInit2(&state->zlib, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("cannot start gzip compression for " + path);
  }
  state->zlib_ready = true;
  state->md5 = EVP_MD_CTX_new();
  state->sha256 = EVP_MD_CTX_new();
  if (state->md5 == nullptr || state->sha256 == nullptr ||
      EVP_DigestInit_ex(state->md5, EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(state->sha256, EVP_sha256(), nullptr) != 1) {
    return Status::Internal("cannot start the MD5 and SHA-256 digests for " + path);
  }
  return std::unique_ptr<TarGzWriter>(new TarGzWriter(std::move(state)));
}

TarGzWriter::TarGzWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}

TarGzWriter::~TarGzWriter() = default;

Status TarGzWriter::Deflate(std::string_view bytes, bool finish) {
  State& s = *state_;
  s.zlib.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  s.zlib.avail_in = static_cast<uInt>(bytes.size());
  int result = Z_OK;
  do {
    s.zlib.next_out = s.out.data();
    s.zlib.avail_out = static_cast<uInt>(s.out.size());
    result = deflate(&s.zlib, finish ? Z_FINISH : Z_NO_FLUSH);
    if (result == Z_STREAM_ERROR) return Status::Internal("gzip compression failed for " + s.path);
    const size_t produced = s.out.size() - s.zlib.avail_out;
    EVP_DigestUpdate(s.md5, s.out.data(), produced);
    EVP_DigestUpdate(s.sha256, s.out.data(), produced);
    size_t written = 0;
    while (written < produced) {
      ssize_t n = write(s.fd, s.out.data() + written, produced - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Status::Internal("writing archive file " + s.path +
                                " failed: " + std::strerror(errno));
      }
      written += static_cast<size_t>(n);
    }
    s.file_bytes += static_cast<int64_t>(produced);
  } while (s.zlib.avail_out == 0 || (finish && result != Z_STREAM_END));
  return Status::Ok();
}

Status TarGzWriter::WriteTar(std::string_view bytes) {
  if (state_->finished) return Status::Internal("archive " + state_->path + " is already finished");
  // zlib takes at most 4 GiB per call.
  while (!bytes.empty()) {
    std::string_view part = bytes.substr(0, kChunkBytes);
    Status status = Deflate(part, /*finish=*/false);
    if (!status.ok()) return status;
    state_->tar_bytes += static_cast<int64_t>(part.size());
    bytes.remove_prefix(part.size());
  }
  return Status::Ok();
}

Status TarGzWriter::PadBlock(int64_t size) {
  const size_t rest = static_cast<size_t>(size % kBlockBytes);
  if (rest == 0) return Status::Ok();
  return WriteTar(std::string(kBlockBytes - rest, '\0'));
}

Status TarGzWriter::WriteHeader(const std::string& name, char type, int64_t size,
                                int64_t mtime_seconds) {
  Status valid = ValidateName(name);
  if (!valid.ok()) return valid;
  if (size < 0 || size > kMaxEntryBytes) {
    return Status::InvalidArgument("tar entry " + name + " of " + std::to_string(size) +
                                   " bytes is over the ustar limit of 8 GiB");
  }
  StatusOr<std::pair<std::string, std::string>> split = SplitName(name);
  if (!split.ok()) return split.status();

  char header[kBlockBytes] = {};
  std::memcpy(header, split->second.data(), split->second.size());
  PutOctal(header + 100, 8, type == '5' ? 0755 : 0644);
  PutOctal(header + 108, 8, 0);
  PutOctal(header + 116, 8, 0);
  PutOctal(header + 124, 12, size);
  PutOctal(header + 136, 12, std::max<int64_t>(0, mtime_seconds));
  header[156] = type;
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  std::memcpy(header + 265, "root", 4);
  std::memcpy(header + 297, "root", 4);
  std::memcpy(header + 345, split->first.data(), split->first.size());

  // The checksum is the sum of the header's bytes with its own field
  // counted as eight spaces.
  std::memset(header + 148, ' ', 8);
  unsigned int sum = 0;
  for (unsigned char byte : header) sum += byte;
  PutOctal(header + 148, 7, sum);
  header[155] = ' ';
  return WriteTar(std::string_view(header, kBlockBytes));
}

Status TarGzWriter::AddDirectory(const std::string& name, int64_t mtime_seconds) {
  std::string directory = name;
  if (directory.empty() || directory.back() != '/') directory += '/';
  Status valid = ValidateName(directory.substr(0, directory.size() - 1));
  if (!valid.ok()) return valid;
  return WriteHeader(directory, '5', 0, mtime_seconds);
}

Status TarGzWriter::AddFile(const std::string& name, std::string_view content,
                            int64_t mtime_seconds) {
  Status status = WriteHeader(name, '0', static_cast<int64_t>(content.size()), mtime_seconds);
  if (status.ok()) status = WriteTar(content);
  if (status.ok()) status = PadBlock(static_cast<int64_t>(content.size()));
  return status;
}

Status TarGzWriter::AddFileFrom(const std::string& name, const std::string& source_path,
                                int64_t mtime_seconds) {
  std::ifstream in(source_path, std::ios::binary);
  struct stat info {};
  if (!in || stat(source_path.c_str(), &info) != 0) {
    return Status::Internal("cannot read " + source_path + " to add it to archive " + state_->path);
  }
  const int64_t size = static_cast<int64_t>(info.st_size);
  Status status = WriteHeader(name, '0', size, mtime_seconds);
  if (!status.ok()) return status;
  std::string buffer(kChunkBytes, '\0');
  int64_t copied = 0;
  while (in && copied < size) {
    in.read(buffer.data(), static_cast<std::streamsize>(std::min<int64_t>(
                               static_cast<int64_t>(buffer.size()), size - copied)));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    status = WriteTar(std::string_view(buffer.data(), static_cast<size_t>(got)));
    if (!status.ok()) return status;
    copied += got;
  }
  if (copied != size || in.peek() != std::char_traits<char>::eof()) {
    return Status::Internal(source_path + " changed size while it was added to archive " +
                            state_->path);
  }
  return PadBlock(size);
}

StatusOr<TarGzSummary> TarGzWriter::Finish() {
  State& s = *state_;
  if (s.finished) return Status::Internal("archive " + s.path + " is already finished");
  // Two zero blocks end the archive; more zeros fill the last record.
  int64_t end = s.tar_bytes + 2 * static_cast<int64_t>(kBlockBytes);
  end = (end + kRecordBytes - 1) / kRecordBytes * kRecordBytes;
  Status status = WriteTar(std::string(static_cast<size_t>(end - s.tar_bytes), '\0'));
  if (status.ok()) status = Deflate({}, /*finish=*/true);
  if (!status.ok()) return status;
  s.finished = true;
  if (fsync(s.fd) != 0 || close(s.fd) != 0) {
    s.fd = -1;
    return Status::Internal("flushing archive file " + s.path + " failed: " + std::strerror(errno));
  }
  s.fd = -1;

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  TarGzSummary summary;
  summary.bytes = s.file_bytes;
  EVP_DigestFinal_ex(s.md5, digest, &length);
  summary.md5 = Hex(digest, length);
  EVP_DigestFinal_ex(s.sha256, digest, &length);
  summary.sha256 = Hex(digest, length);
  return summary;
}

struct Sha256Digest::Context {
  EVP_MD_CTX* evp = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(evp); }
};

Sha256Digest::Sha256Digest() : context_(std::make_unique<Context>()) {
  EVP_DigestInit_ex(context_->evp, EVP_sha256(), nullptr);
}

Sha256Digest::~Sha256Digest() = default;

void Sha256Digest::Update(std::string_view bytes) {
  EVP_DigestUpdate(context_->evp, bytes.data(), bytes.size());
}

std::string Sha256Digest::Hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->evp, digest, &length);
  return svcd::archive::Hex(digest, length);
}

std::string Md5Hex(std::string_view bytes) { return DigestHex(EVP_md5(), bytes); }

std::string Sha256Hex(std::string_view bytes) { return DigestHex(EVP_sha256(), bytes); }

StatusOr<std::string> Md5HexOfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr);
  std::vector<char> block(64 * 1024);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    EVP_DigestUpdate(context.get(), block.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::Internal("reading " + path + " failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  return Hex(digest, length);
}

}  // namespace svcd::archive
