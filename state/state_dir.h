#pragma once
// The state directory itself (docs/state.md, "The state directory"). c360 writes only into
// a directory that is new, empty, or marked as its own: a marker file, C360-STATE, holding
// "c360 state format N", is written when the directory is created and checked before
// RocksDB opens it, so that --state-dir pointed at a foreign directory (a source tree, a
// home directory, another program's database) is refused with nothing written there.
//
// Called once at start-up, by StateStore::Open; not thread-safe.

#include <string>
#include <string_view>

namespace c360 {

// The layout of the keys and values under state/ that this c360 reads and writes. Bumped
// when a change cannot be read by the code before it (or this code cannot read the old).
// 2: a customer's closed months of daily scores in key family D (format 1 kept them all
// in the customer's value). This c360 reads format 1 too and upgrades it in place: the
// marker says 2 from the first start on, and each customer's closed months move to
// family D the first time the engine loads it.
inline constexpr int kStateFormat = 2;
inline constexpr int kOldestStateFormat = 1;  // the oldest format this c360 upgrades
inline constexpr std::string_view kStateMarkerFile = "C360-STATE";

enum class StateDirOrigin {
  kCreated,   // missing or empty: created (mode 0700, missing parents too) and marked
  kMarked,    // marked with this format already
  kAdopted,   // a state directory of the c360 before the marker (docs/state.md): marked now
  kUpgraded,  // marked with an older format this c360 upgrades: marked with this one now
};

// Makes `dir` ready for RocksDB to open, or refuses it. Throws StateDirectoryError when
// the directory is not one c360 may use as it is (nothing is written then), StateError
// when the file system fails.
StateDirOrigin PrepareStateDirectory(const std::string& dir);

// The marker file's content for `format`.
std::string StateMarkerText(int format);

}  // namespace c360
