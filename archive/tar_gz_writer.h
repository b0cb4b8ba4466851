// TarGzWriter: writes a gzip-compressed POSIX ustar archive (the format
// of POSIX.1-2001 pax without extended headers) to a file, and computes the
// MD5 and SHA-256 of the compressed bytes as they are written.
//
// Entries are regular files with mode 0644 and directories with mode 0755,
// owned by uid and gid 0. A name must be relative, free of "." and ".."
// segments and NUL bytes, and fit the ustar name fields: at most 100 bytes,
// or a prefix of at most 155 bytes plus a name of at most 100 bytes split
// at a '/'. Not thread-safe; one writer per file.

#ifndef SVCD_ARCHIVE_TAR_GZ_WRITER_H_
#define SVCD_ARCHIVE_TAR_GZ_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/status.h"

namespace svcd::archive {

// What Finish reports about the finished file.
struct TarGzSummary {
  int64_t bytes = 0;   // size of the .tar.gz file
  std::string md5;     // 32 lowercase hex digits
  std::string sha256;  // 64 lowercase hex digits
};

class TarGzWriter {
 public:
  // Creates `path` (failing when it exists) and starts the gzip stream.
  // Internal when the file cannot be created.
  static StatusOr<std::unique_ptr<TarGzWriter>> Create(const std::string& path);
  ~TarGzWriter();

  TarGzWriter(const TarGzWriter&) = delete;
  TarGzWriter& operator=(const TarGzWriter&) = delete;

  // Adds a directory entry; `name` gets a trailing '/' when it has none.
  Status AddDirectory(const std::string& name, int64_t mtime_seconds);

  // Adds a regular file holding `content`. InvalidArgument for a name the
  // format cannot hold; Internal when writing fails.
  Status AddFile(const std::string& name, std::string_view content, int64_t mtime_seconds);

  // Adds a regular file whose bytes are copied from the file at
  // `source_path`, in chunks, so memory stays small. Internal when the
  // source cannot be read or its size changes while it is copied.
  Status AddFileFrom(const std::string& name, const std::string& source_path,
                     int64_t mtime_seconds);

  // Writes the two zero blocks that end a tar archive, pads it to a whole
  // 10240-byte record, ends the gzip stream, flushes the file to disk
  // (fsync) and closes it. No call may follow.
  StatusOr<TarGzSummary> Finish();

 private:
  struct State;
  explicit TarGzWriter(std::unique_ptr<State> state);

  Status WriteHeader(const std::string& name, char type, int64_t size, int64_t mtime_seconds);
  Status WriteTar(std::string_view bytes);
  Status Deflate(std::string_view bytes, bool finish);
  Status PadBlock(int64_t size);

  std::unique_ptr<State> state_;
};

// An incremental SHA-256 over OpenSSL's EVP interface.
class Sha256Digest {
 public:
  Sha256Digest();
  ~Sha256Digest();
  Sha256Digest(const Sha256Digest&) = delete;
  Sha256Digest& operator=(const Sha256Digest&) = delete;

  void Update(std::string_view bytes);
  // Returns the 64 lowercase hex digits of everything passed to Update.
  // Call it once, last.
  std::string Hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Returns the lowercase hex MD5 and SHA-256 of `bytes`, using OpenSSL's
// EVP interface.
std::string Md5Hex(std::string_view bytes);
std::string Sha256Hex(std::string_view bytes);

// Returns the lowercase hex MD5 of the file at `path`, read in 64 KiB
// blocks, so memory use does not grow with the file size. NotFound when the file
// cannot be opened; Internal when a read fails.
StatusOr<std::string> Md5HexOfFile(const std::string& path);

}  // namespace svcd::archive

#endif  // SVCD_ARCHIVE_TAR_GZ_WRITER_H_
