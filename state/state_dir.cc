#include "state/state_dir.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "state/keys.h"
#include "state/store.h"

namespace c360 {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMarkerPrefix = "c360 state format ";
constexpr char kAdvice[] = "point --state-dir at a new or empty directory";

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

// Names RocksDB gives the files of its directory (its file/filename.cc).
bool IsRocksDbFile(const std::string& name) {
  if (name == "CURRENT" || name == "IDENTITY" || name == "LOCK" || name == "LOG") return true;
  for (std::string_view prefix : {"LOG.old.", "MANIFEST-", "OPTIONS-"}) {
    if (name.starts_with(prefix)) return true;
  }
  for (std::string_view suffix : {".log", ".sst", ".ldb", ".blob", ".dbtmp"}) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

class NullLogger : public rocksdb::Logger {
 public:
  void Logv(const char*, va_list) override {}
  void Logv(const rocksdb::InfoLogLevel, const char*, va_list) override {}
};

bool IsC360Family(char byte) {
  for (state::Family f :
       {state::Family::kCustomer, state::Family::kOffset, state::Family::kStreamTime,
        state::Family::kTimer, state::Family::kOutbox, state::Family::kMeta,
        state::Family::kJournal, state::Family::kRow, state::Family::kDaily}) {
    if (byte == static_cast<char>(f)) return true;
  }
  return false;
}

// Whether a RocksDB database holds what the c360 before the marker wrote: a stored offset
// (family O, task and topic, an 8-byte value: every commit that consumed a record wrote
// one), and first and last keys of c360's families. Three reads, however large the
// database; opened read-only, which writes nothing in the directory (its info log is
// discarded). nullopt: it is; else why not.
std::optional<std::string> WhyNotC360Database(const std::string& dir) {
  rocksdb::Options options;
  options.info_log = std::make_shared<NullLogger>();
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!status.ok()) return "a RocksDB database that cannot be read (" + status.ToString() + ")";
  const std::unique_ptr<rocksdb::DB> db(raw);
  const std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  bool families = true;
  it->SeekToFirst();
  families = families && it->Valid() && IsC360Family(it->key()[0]);
  it->SeekToLast();
  families = families && it->Valid() && IsC360Family(it->key()[0]);
  it->Seek(std::string(1, static_cast<char>(state::Family::kOffset)));
  const bool offset = it->Valid() && it->key().size() == 4 &&
                      it->key()[0] == static_cast<char>(state::Family::kOffset) &&
                      it->value().size() == 8;
  if (!it->status().ok()) {
    return "a RocksDB database that cannot be read (" + it->status().ToString() + ")";
  }
  if (families && offset) return std::nullopt;
  return "a RocksDB database without c360's keys";
}

// mkdir -p, each directory it creates with mode 0700.
void CreateDirectories(const std::string& dir) {
  fs::path path;
  for (const fs::path& part : fs::path(dir)) {
    path /= part;
    if (part.empty() || part == "/") continue;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      throw StateError(SystemError("cannot create state directory " + path.string()));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw StateError("cannot create state directory " + dir);
  }
  // mkdir's mode passes through the umask; the state is the owner's alone.
  if (::chmod(dir.c_str(), 0700) != 0) {
    throw StateError(SystemError("cannot set the mode of state directory " + dir));
  }
}

// Written whole or not at all: a temporary file, synced, then renamed over the marker.
void WriteMarker(const std::string& dir) {
  const std::string marker = dir + "/" + std::string(kStateMarkerFile);
  const std::string temporary = marker + ".tmp";
  const std::string text = StateMarkerText(kStateFormat);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw StateError(SystemError("cannot write " + temporary));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!written || ::rename(temporary.c_str(), marker.c_str()) != 0) {
    throw StateError(SystemError("cannot write " + marker));
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
}

// The format a marker's text names: "1" for "c360 state format 1"; anything else quoted.
std::string FormatNamed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.starts_with(kMarkerPrefix)) {
    const std::string n = text.substr(kMarkerPrefix.size());
    if (!n.empty() && n.size() <= 9 && n.find_first_not_of("0123456789") == std::string::npos) {
      return n;
    }
  }
  std::string shown;
  for (char c : text.substr(0, 40)) {
    shown += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  return "\"" + shown + (text.size() > 40 ? "...\"" : "\"") + " (not a c360 format)";
}

// The marker's text, at most 256 bytes of it.
std::string ReadMarker(const std::string& marker) {
  const int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StateError(SystemError("cannot read " + marker));
  char buffer[256];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (n < 0) throw StateError(SystemError("cannot read " + marker));
  return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace

std::string StateMarkerText(int format) {
  return std::string(kMarkerPrefix) + std::to_string(format) + "\n";
}

StateDirOrigin PrepareStateDirectory(const std::string& dir) {
  if (dir.empty()) throw StateDirectoryError("no state directory given; " + std::string(kAdvice));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) throw StateError(SystemError("cannot open state directory " + dir));
    CreateDirectories(dir);
    WriteMarker(dir);
    return StateDirOrigin::kCreated;
  }
  if (!S_ISDIR(st.st_mode)) {
    throw StateDirectoryError("state directory " + dir + " is not a directory; " + kAdvice);
  }

  const std::string marker = dir + "/" + std::string(kStateMarkerFile);
  struct stat marker_st {};
  if (::stat(marker.c_str(), &marker_st) == 0) {
    const std::string format = S_ISREG(marker_st.st_mode) ? FormatNamed(ReadMarker(marker))
                                                          : "unknown (C360-STATE is not a file)";
    if (format == std::to_string(kStateFormat)) return StateDirOrigin::kMarked;
    for (int old = kOldestStateFormat; old < kStateFormat; ++old) {
      if (format != std::to_string(old)) continue;
      WriteMarker(dir);  // before RocksDB opens it: an older c360 now refuses it
      return StateDirOrigin::kUpgraded;
    }
    throw StateDirectoryError("state directory " + dir + " has format " + format +
                              "; this c360 reads formats " + std::to_string(kOldestStateFormat) +
                              " to " + std::to_string(kStateFormat) +
                              ": run the c360 that wrote it, or " + kAdvice);
  }
  if (errno != ENOENT) throw StateError(SystemError("cannot read " + marker));

  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    // What a fresh file system holds where it is mounted, and a marker write cut short:
    // the directory is still empty.
    if (name != "lost+found" && name != std::string(kStateMarkerFile) + ".tmp") {
      names.push_back(name);
    }
  }
  if (error) throw StateError("cannot list state directory " + dir + ": " + error.message());
  if (names.empty()) {
    WriteMarker(dir);
    return StateDirOrigin::kCreated;
  }

  std::string foreign;
  size_t foreign_count = 0;
  bool current = false;
  for (const std::string& name : names) {
    current = current || name == "CURRENT";
    if (!IsRocksDbFile(name)) {
      if (foreign_count++ == 0) foreign = state::Printable(name);
    }
  }
  std::string why;
  if (foreign_count > 0) {
    why = "it holds " + foreign +
          (foreign_count > 1 ? " and " + std::to_string(foreign_count - 1) + " more entries" : "") +
          " that c360 did not write";
  } else if (!current) {
    why = "it holds RocksDB files without a database (no CURRENT)";
  } else if (auto reason = WhyNotC360Database(dir)) {
    why = "it holds " + *reason;
  } else {
    WriteMarker(dir);
    return StateDirOrigin::kAdopted;
  }
  throw StateDirectoryError("state directory " + dir + " is not a c360 state directory (no " +
                            std::string(kStateMarkerFile) + " marker; " + why + "); " + kAdvice);
}

}  // namespace c360
