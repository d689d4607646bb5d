#pragma once
// A hash table of owned values keyed by a string each value holds (KeyOf{}(value)): open
// addressing with linear probing, one 16-byte slot per value (its key's hash and a
// pointer). Against std::unordered_map<std::string, std::unique_ptr<T>> it stores the key
// once (in the value), allocates no node per value, and finds a value with one probe of
// a contiguous array in the common case instead of a bucket, a node and the key (each a
// cache miss on a table far larger than the caches). Not thread-safe. Pointers to values
// stay valid until their value is erased.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace c360 {

template <typename T, typename KeyOf>
class FlatTable {
 public:
  FlatTable() = default;
  ~FlatTable() { Clear(); }
  FlatTable(const FlatTable&) = delete;
  FlatTable& operator=(const FlatTable&) = delete;

  size_t size() const { return size_; }

  T* Find(std::string_view key) const {
    if (size_ == 0) return nullptr;
    const uint64_t hash = Hash(key);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value == nullptr) return nullptr;
      if (s.hash == hash && KeyOf{}(*s.value) == key) return s.value;
    }
  }

  // Takes the value, whose key must not be in the table yet.
  T* Insert(std::unique_ptr<T> value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    T* const raw = value.release();
    Place(Slot{Hash(KeyOf{}(*raw)), raw});
    ++size_;
    return raw;
  }

  // Deletes the value with this key; false if there is none.
  bool Erase(std::string_view key) {
    if (size_ == 0) return false;
    const uint64_t hash = Hash(key);
    size_t i = hash & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].value == nullptr) return false;
      if (slots_[i].hash == hash && KeyOf{}(*slots_[i].value) == key) break;
    }
    delete slots_[i].value;
    slots_[i] = Slot{};
    --size_;
    // Backward shift: every later slot of the probe run that may move closer to its home
    // slot moves into the hole, so that no lookup stops early at it.
    for (size_t j = (i + 1) & mask_; slots_[j].value != nullptr; j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        slots_[j] = Slot{};
        i = j;
      }
    }
    return true;
  }

  // fn(T&) for every value, in no particular order; fn must not insert or erase.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.value != nullptr) fn(*s.value);
    }
  }

  void Clear() {
    for (Slot& s : slots_) delete s.value;
    slots_.clear();
    size_ = 0;
    mask_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    T* value = nullptr;
  };
  static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

  void Place(Slot slot) {
    size_t i = slot.hash & mask_;
    while (slots_[i].value != nullptr) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.value != nullptr) Place(s);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace c360
