#include "store/append_memtable.h"

#include <rocksdb/slice.h>
#include <rocksdb/version.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

static_assert(ROCKSDB_MAJOR == 7, "AppendRep::Get reads LookupKey's layout: check db/lookup_key.h");

namespace devstate {
namespace {

using Bucket = std::vector<const char*>;

// Entries are read in an order unrelated to where they lie in the arena, so reading one
// fetches the one this many steps on.
constexpr size_t kPrefetchAhead = 32;

// The bytes of an internal key after the user key: sequence number << 8 | value type.
constexpr size_t kTrailerBytes = 8;

rocksdb::Slice InternalKey(const char* entry) { return rocksdb::GetLengthPrefixedSlice(entry); }

uint64_t Sequence(const rocksdb::Slice& internal_key) {
  uint64_t packed;
  std::memcpy(&packed, internal_key.data() + internal_key.size() - kTrailerBytes, 8);
  return packed >> 8;  // RocksDB stores it little-endian; the low byte is the type
}

// InternalKeyComparator::CompareKeySeq for the bytewise comparator: user key ascending, then
// sequence number descending.
int CompareInternal(const rocksdb::Slice& a, const rocksdb::Slice& b) {
  const rocksdb::Slice ua(a.data(), a.size() - kTrailerBytes);
  const rocksdb::Slice ub(b.data(), b.size() - kTrailerBytes);
  if (int r = ua.compare(ub); r != 0) return r < 0 ? -1 : 1;
  const uint64_t sa = Sequence(a), sb = Sequence(b);
  return sa > sb ? -1 : (sa < sb ? 1 : 0);
}

uint64_t LoadBigEndian(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// One entry of the flush sort: 16 bytes of the user key from some offset, zero-padded, as
// two big-endian integers, beside the entry. Comparing the integers orders keys as memcmp
// does, except that a key and the same key followed by zero bytes tie.
struct SortEntry {
  uint64_t high;
  uint64_t low;
  const char* entry;
  size_t user_size;  // of the user key
};

// How far the sort compares by loaded prefixes before it compares whole keys (a bound on
// its recursion; keys that share this much are rare).
constexpr size_t kMaxPrefixOffset = 64;

void LoadPrefix(SortEntry* e, size_t offset) {
  const rocksdb::Slice key = InternalKey(e->entry);
  e->user_size = key.size() - kTrailerBytes;
  char prefix[16] = {};
  if (offset < e->user_size) {
    std::memcpy(prefix, key.data() + offset, std::min(e->user_size - offset, sizeof prefix));
  }
  e->high = LoadBigEndian(prefix);
  e->low = LoadBigEndian(prefix + 8);
}

bool PrefixLess(const SortEntry& a, const SortEntry& b) {
  return a.high != b.high ? a.high < b.high : a.low < b.low;
}

bool EntryLess(const SortEntry& a, const SortEntry& b) {
  return CompareAppendEntries(a.entry, b.entry) < 0;
}

// Sorts [begin, end), whose keys agree on their first `offset` bytes: by the next 16 bytes,
// then each run that ties on them by the 16 after, and so on (a most-significant-digit
// sort). Each key is loaded once per level it ties at; runs whose keys all end within the
// bytes compared (versions of one key, or keys that differ only by trailing zero bytes)
// compare whole entries.
void SortByPrefix(SortEntry* begin, SortEntry* end, size_t offset) {
  for (SortEntry* e = begin; e != end; ++e) {
    if (end - e > static_cast<ptrdiff_t>(kPrefetchAhead)) {
      __builtin_prefetch(e[kPrefetchAhead].entry);
    }
    LoadPrefix(e, offset);
  }
  std::sort(begin, end, PrefixLess);
  for (SortEntry* run = begin; run != end;) {
    SortEntry* next = run + 1;
    while (next != end && next->high == run->high && next->low == run->low) ++next;
    if (next - run > 1) {
      const bool longer =
          std::any_of(run, next, [&](const SortEntry& e) { return e.user_size > offset + 16; });
      if (longer && offset + 16 < kMaxPrefixOffset) {
        SortByPrefix(run, next, offset + 16);
      } else {
        std::sort(run, next, EntryLess);
      }
    }
    run = next;
  }
}

void SortBucket(Bucket* bucket) {
  std::vector<SortEntry> entries(bucket->size());
  for (size_t i = 0; i < bucket->size(); ++i) entries[i].entry = (*bucket)[i];
  SortByPrefix(entries.data(), entries.data() + entries.size(), 0);
  for (size_t i = 0; i < entries.size(); ++i) (*bucket)[i] = entries[i].entry;
}

class AppendRep;

// A position in a bucket that is sorted before the first positioning call (so that creating
// an iterator for a flush costs nothing until the flush reads it).
class Cursor {
 public:
  // owner: non-null when bucket is the immutable memtable's own, sorted once for every reader.
  Cursor(AppendRep* owner, std::shared_ptr<Bucket> bucket,
         const rocksdb::MemTableRep::KeyComparator& compare)
      : owner_(owner), bucket_(std::move(bucket)), pos_(bucket_->size()), compare_(compare) {}

  bool Valid() const { return pos_ < bucket_->size(); }
  const char* key() const { return (*bucket_)[pos_]; }
  void Next() {
    if (pos_ < bucket_->size()) ++pos_;
    // A flush reads every entry in key order (kPrefetchAhead).
    if (pos_ + kPrefetchAhead < bucket_->size())
      __builtin_prefetch((*bucket_)[pos_ + kPrefetchAhead]);
  }
  // From the first entry, Prev leaves the cursor invalid, as RocksDB's reps do.
  void Prev() { pos_ = pos_ == 0 ? bucket_->size() : pos_ - 1; }
  void Seek(const rocksdb::Slice& internal_key, const char* memtable_key) {
    EnsureSorted();
    pos_ = LowerBound(Target(internal_key, memtable_key));
  }
  void SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) {
    EnsureSorted();
    const char* target = Target(internal_key, memtable_key);
    const size_t at = LowerBound(target);  // the first entry >= target
    if (at < bucket_->size() && compare_((*bucket_)[at], target) == 0) {
      pos_ = at;
    } else {
      pos_ = at == 0 ? bucket_->size() : at - 1;
    }
  }
  void SeekToFirst() {
    EnsureSorted();
    pos_ = 0;
  }
  void SeekToLast() {
    EnsureSorted();
    pos_ = bucket_->empty() ? 0 : bucket_->size() - 1;
  }

 private:
  void EnsureSorted();

  size_t LowerBound(const char* target) const {
    auto less = [this](const char* a, const char* b) { return compare_(a, b) < 0; };
    return std::lower_bound(bucket_->begin(), bucket_->end(), target, less) - bucket_->begin();
  }

  // The target as a memtable entry: varint32 length, then the internal key.
  const char* Target(const rocksdb::Slice& internal_key, const char* memtable_key) {
    if (memtable_key != nullptr) return memtable_key;
    scratch_.clear();
    auto n = static_cast<uint32_t>(internal_key.size());
    while (n >= 0x80) {
      scratch_.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    scratch_.push_back(static_cast<char>(n));
    scratch_.append(internal_key.data(), internal_key.size());
    return scratch_.data();
  }

  AppendRep* owner_;
  std::shared_ptr<Bucket> bucket_;
  size_t pos_;
  bool sorted_ = false;
  const rocksdb::MemTableRep::KeyComparator& compare_;
  std::string scratch_;
};

// The iterator RocksDB is given. RocksDB either deletes it or, when it asked for one in its
// arena, only runs its destructor; the arena's type is not public. So the iterator is a
// pointer to its cursor, which the destructor frees, in 16 bytes of storage that the rep
// keeps until the rep goes (a memtable outlives its iterators); delete frees nothing.
// A memtable's iterators are few: one per flush, per recovery load, per FLUSHALL (which
// finds the journal's last key); a FLUSHALL also writes range deletes, larger than 16 bytes,
// into the memtable, so what the storage keeps grows slower than the memtable it fills.
class AppendIterator : public rocksdb::MemTableRep::Iterator {
 public:
  explicit AppendIterator(std::unique_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}
  static void operator delete(void*) {}  // the rep owns the storage (above)

  bool Valid() const override { return cursor_->Valid(); }
  const char* key() const override { return cursor_->key(); }
  void Next() override { cursor_->Next(); }
  void Prev() override { cursor_->Prev(); }
  void Seek(const rocksdb::Slice& internal_key, const char* memtable_key) override {
    cursor_->Seek(internal_key, memtable_key);
  }
  void SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) override {
    cursor_->SeekForPrev(internal_key, memtable_key);
  }
  void SeekToFirst() override { cursor_->SeekToFirst(); }
  void SeekToLast() override { cursor_->SeekToLast(); }

 private:
  std::unique_ptr<Cursor> cursor_;
};

class AppendRep : public rocksdb::MemTableRep {
 public:
  AppendRep(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), bucket_(std::make_shared<Bucket>()), compare_(compare) {}

  void Insert(rocksdb::KeyHandle handle) override {
    std::unique_lock lock(mu_);
    bucket_->push_back(static_cast<const char*>(handle));
  }

  bool Contains(const char* key) const override {
    std::shared_lock lock(mu_);
    return std::any_of(bucket_->begin(), bucket_->end(),
                       [&](const char* entry) { return compare_(entry, key) == 0; });
  }

  void MarkReadOnly() override {
    std::unique_lock lock(mu_);
    immutable_ = true;
  }

  // Constant once the memtable is immutable: RocksDB's accounting requires it.
  size_t ApproximateMemoryUsage() override {
    std::shared_lock lock(mu_);
    return sizeof(*this) + bucket_->capacity() * sizeof(const char*);
  }

  // RocksDB's default Get never frees the iterator it asks for, so the rep reads with a
  // cursor on the stack. LookupKey is not public: its first member points at the memtable
  // key (db/lookup_key.h, unchanged since LevelDB); the version check above guards that.
  void Get(const rocksdb::LookupKey& k, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override {
    const char* memtable_key;
    std::memcpy(&memtable_key, &k, sizeof memtable_key);
    std::unique_ptr<Cursor> cursor = NewCursor();
    for (cursor->Seek(InternalKey(memtable_key), memtable_key);
         cursor->Valid() && callback_func(callback_args, cursor->key()); cursor->Next()) {
    }
  }

  Iterator* GetIterator(rocksdb::Arena* /*arena: see AppendIterator*/) override {
    std::unique_ptr<Cursor> cursor = NewCursor();
    std::unique_lock lock(mu_);
    void* storage = &iterators_.emplace_back();
    return new (storage) AppendIterator(std::move(cursor));
  }

  // Sorts the immutable bucket once, for every iterator that reads it.
  void SortOnce() {
    std::unique_lock lock(mu_);
    if (!sorted_) SortBucket(bucket_.get());
    sorted_ = true;
  }

 private:
  // Over the immutable bucket itself, or over a copy of the mutable one, to sort.
  std::unique_ptr<Cursor> NewCursor() {
    std::shared_lock lock(mu_);
    if (immutable_) return std::make_unique<Cursor>(this, bucket_, compare_);
    return std::make_unique<Cursor>(nullptr, std::make_shared<Bucket>(*bucket_), compare_);
  }

  struct Storage {
    alignas(AppendIterator) unsigned char bytes[sizeof(AppendIterator)];
  };

  mutable std::shared_mutex mu_;  // guards all below but compare_
  std::shared_ptr<Bucket> bucket_;
  bool immutable_ = false;
  bool sorted_ = false;
  std::deque<Storage> iterators_;  // every iterator's storage (stable addresses), see above
  const KeyComparator& compare_;
};

void Cursor::EnsureSorted() {
  if (sorted_) return;
  if (owner_ != nullptr) {
    owner_->SortOnce();
  } else {
    SortBucket(bucket_.get());  // a private copy of a mutable memtable
  }
  sorted_ = true;
}

}  // namespace

int CompareAppendEntries(const char* a, const char* b) {
  return CompareInternal(InternalKey(a), InternalKey(b));
}

rocksdb::MemTableRep* AppendMemTableFactory::CreateMemTableRep(
    const rocksdb::MemTableRep::KeyComparator& compare, rocksdb::Allocator* allocator,
    const rocksdb::SliceTransform* /*prefix*/, rocksdb::Logger* /*logger*/) {
  return new AppendRep(compare, allocator);
}

}  // namespace devstate
