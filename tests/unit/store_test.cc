// Recovery: the keyspace is rebuilt from the journal at open; a torn tail is dropped.
#include "store/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

RecordPtr Value(std::string_view v, int64_t expire_at_ms = 0) {
  return Record::Make({.type = 3, .expire_at_ms = expire_at_ms, .value = v, .meta = "meta"});
}

std::unique_ptr<Store> OpenAt(const std::string& dir) {
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.dir = dir;
  Status s = Store::Open(options, &store);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return store;
}

Status PutOne(Store* store, const std::string& k, RecordPtr v) {
  std::vector<Mutation> m;
  m.push_back(Mutation::Put(k, std::move(v)));
  return store->WriteAndWait(std::move(m));
}

// Copies a live database directory: what a crash at this instant would leave on disk
// (every write so far was synced, nothing was flushed or closed).
void CopyCrashImage(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().filename() == "LOCK") continue;
    fs::copy(entry.path(), to + "/" + entry.path().filename().string());
  }
}

std::string NewestLog(const std::string& dir) {
  std::string newest;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".log" && name > fs::path(newest).filename().string()) {
      newest = entry.path().string();
    }
  }
  return newest;
}

// Where the newest log's records end. A live log is sized ahead of its data (the journal
// preallocates it), and the rest of the file is zeros.
uint64_t DataEnd(const std::string& log) {
  std::ifstream in(log, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t last = bytes.find_last_not_of('\0');
  return last == std::string::npos ? 0 : last + 1;
}

// Writes `bytes` over the log at `offset`, keeping its size.
void Overwrite(const std::string& log, uint64_t offset, const std::string& bytes) {
  std::fstream out(log, std::ios::in | std::ios::out | std::ios::binary);
  out.seekp(static_cast<std::streamoff>(offset));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(StoreTest, RecoversEveryWriteAfterReopen) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(
          PutOne(store.get(), "k" + std::to_string(i), Value("v" + std::to_string(i))).ok());
    std::vector<Mutation> del;
    del.push_back(Mutation::Delete("k7"));
    ASSERT_TRUE(store->WriteAndWait(std::move(del)).ok());
  }
  auto store = OpenAt(dir.Sub("db"));
  EXPECT_EQ(store->keyspace().Size(), 999u);
  EXPECT_EQ(store->Get("k7"), nullptr);
  RecordPtr r = store->Get("k999");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->value(), "v999");
  EXPECT_EQ(r->type(), 3);
  EXPECT_EQ(r->meta(), "meta");
}

TEST(StoreTest, RecoversFromACrashImage) {
  TempDir dir;
  auto live = OpenAt(dir.Sub("db"));
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(PutOne(live.get(), "k" + std::to_string(i), Value("v")).ok());
  CopyCrashImage(dir.Sub("db"), dir.Sub("crash"));
  auto store = OpenAt(dir.Sub("crash"));
  EXPECT_EQ(store->keyspace().Size(), 300u);
  EXPECT_EQ(store->LastSequence(), live->LastSequence());
}

TEST(StoreTest, DropsATornTailAndKeepsEverythingBefore) {
  // A torn last record: cut short (the file ends inside it), or with its end never written
  // (zeros, inside the log's preallocated size).
  for (const bool cut : {true, false}) {
    SCOPED_TRACE(cut ? "cut short" : "zeroed end");
    TempDir dir;
    auto live = OpenAt(dir.Sub("db"));
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(PutOne(live.get(), "k" + std::to_string(i), Value(std::string(100, 'x'))).ok());
    CopyCrashImage(dir.Sub("db"), dir.Sub("crash"));
    const std::string log = NewestLog(dir.Sub("crash"));
    ASSERT_FALSE(log.empty());
    const uint64_t end = DataEnd(log);
    ASSERT_GT(end, 50u);
    if (cut) {
      fs::resize_file(log, end - 50);
    } else {
      Overwrite(log, end - 50, std::string(50, '\0'));
    }
    auto store = OpenAt(dir.Sub("crash"));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->keyspace().Size(), 299u);
    EXPECT_EQ(store->Get("k299"), nullptr);
    EXPECT_EQ(store->Get("k298")->value(), std::string(100, 'x'));
    // And the store is writable again after recovery.
    EXPECT_TRUE(PutOne(store.get(), "after", Value("1")).ok());
  }
}

TEST(StoreTest, IgnoresGarbageAfterTheLastRecord) {
  TempDir dir;
  auto live = OpenAt(dir.Sub("db"));
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(PutOne(live.get(), "k" + std::to_string(i), Value("v")).ok());
  CopyCrashImage(dir.Sub("db"), dir.Sub("crash"));
  const std::string log = NewestLog(dir.Sub("crash"));
  Overwrite(log, DataEnd(log), std::string(777, '\x5a'));
  auto store = OpenAt(dir.Sub("crash"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->keyspace().Size(), 50u);
}

// The log's size is set once, ahead of its data, not grown by every commit: an fdatasync
// then need not commit a size change through the file system's journal.
TEST(StoreTest, TheLogIsSizedAheadOfItsData) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_TRUE(PutOne(store.get(), "first", Value("v")).ok());
  const std::string log = NewestLog(dir.Sub("db"));
  ASSERT_FALSE(log.empty());
  const uint64_t size = fs::file_size(log);
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(PutOne(store.get(), "k" + std::to_string(i), Value(std::string(100, 'x'))).ok());
  EXPECT_EQ(fs::file_size(log), size);
  EXPECT_GT(size, DataEnd(log) + (1u << 20));
  // A clean close trims it to its data.
  store.reset();
  ASSERT_TRUE(fs::exists(log));
  EXPECT_EQ(fs::file_size(log), DataEnd(log));
}

// The first offset of `path` that lies in a preallocated, never written ("unwritten")
// extent; the file's size if there is none. Fails the test if the file system cannot say.
uint64_t FirstUnwrittenOffset(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return 0;
  constexpr uint32_t kExtents = 256;
  alignas(fiemap) char buffer[sizeof(fiemap) + kExtents * sizeof(fiemap_extent)] = {};
  auto* map = reinterpret_cast<fiemap*>(buffer);
  map->fm_length = FIEMAP_MAX_OFFSET;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = kExtents;
  const int rc = ioctl(fd, FS_IOC_FIEMAP, map);
  close(fd);
  EXPECT_EQ(rc, 0) << "FIEMAP on " << path << ": the test needs ext4 or xfs";
  for (uint32_t i = 0; rc == 0 && i < map->fm_mapped_extents; ++i) {
    if (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) return map->fm_extents[i].fe_logical;
  }
  return fs::file_size(path);
}

// Preallocated blocks are "unwritten" extents, and the first write into one makes the
// fdatasync after it convert the extent through the file system's journal. The journal
// writes zeros ahead of the log's data, so a commit lands on blocks already written.
TEST(StoreTest, TheLogIsWrittenWithZerosAheadOfItsData) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_TRUE(PutOne(store.get(), "first", Value("v")).ok());
  const std::string log = NewestLog(dir.Sub("db"));
  ASSERT_FALSE(log.empty());
  ASSERT_LT(DataEnd(log), 4096u);
  // Without zeroing, only the page the record went into is written.
  EXPECT_GE(FirstUnwrittenOffset(log), 64u * 1024);
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(PutOne(store.get(), "k" + std::to_string(i), Value(std::string(100, 'x'))).ok());
  EXPECT_GT(DataEnd(log), 256u * 1024);
  EXPECT_GE(FirstUnwrittenOffset(log), DataEnd(log));
  // The zeros stay a bounded step ahead: the rest of the preallocation is left alone.
  EXPECT_LT(FirstUnwrittenOffset(log), DataEnd(log) + (1u << 20));
  // A clean close still trims the log to its data, and it reopens with every write.
  store.reset();
  EXPECT_EQ(fs::file_size(log), DataEnd(log));
  store = OpenAt(dir.Sub("db"));
  EXPECT_EQ(store->keyspace().Size(), 3001u);
}

// Past one memtable (16 MB) of writes RocksDB flushes it to a table on its own threads; the
// store reports that work while it runs and 0 once it is done.
TEST(StoreTest, ReportsRocksDbBackgroundWorkUntilItSettles) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  EXPECT_EQ(store->BackgroundJobs(), 0u);
  bool seen = false;
  std::mt19937_64 random(7);
  for (int batch = 0; batch < 100 && !seen; ++batch) {
    std::vector<Mutation> writes;
    for (int i = 0; i < 1000; ++i) {
      std::string value(1000, '\0');
      for (char& c : value) c = static_cast<char>(random());
      writes.push_back(
          Mutation::Put("k" + std::to_string(batch * 1000 + i), Value(std::move(value))));
    }
    ASSERT_TRUE(store->WriteAndWait(std::move(writes)).ok());
    seen = store->BackgroundJobs() > 0;
  }
  EXPECT_TRUE(seen) << "no flush after 100 MB of writes";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (store->BackgroundJobs() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(store->BackgroundJobs(), 0u);
}

// store.write_buffer_mb bounds the memory RocksDB's memtables hold for the journal: with
// 1 MB, 6 MB of writes leave at most about two buffers unflushed; with the default (16 MB)
// they all stay in the memtable.
TEST(StoreTest, TheWriteBufferBoundsTheJournalsMemtables) {
  auto unflushed_after_6mb = [](const std::string& dir, uint64_t write_buffer_mb) {
    std::unique_ptr<Store> store;
    StoreOptions options;
    options.dir = dir;
    if (write_buffer_mb != 0) options.write_buffer_mb = write_buffer_mb;
    EXPECT_TRUE(Store::Open(options, &store).ok());
    for (int batch = 0; batch < 6; ++batch) {
      std::vector<Mutation> writes;
      for (int i = 0; i < 1000; ++i) {
        writes.push_back(Mutation::Put("k" + std::to_string(batch * 1000 + i),
                                       Value(std::string(1000, static_cast<char>('a' + i % 26)))));
      }
      EXPECT_TRUE(store->WriteAndWait(std::move(writes)).ok());
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (store->BackgroundJobs() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return store->MemtableBytes();
  };
  TempDir dir;
  EXPECT_LT(unflushed_after_6mb(dir.Sub("small"), 1), 3u << 20);
  EXPECT_GT(unflushed_after_6mb(dir.Sub("default"), 0), 6u << 20);
}

TEST(StoreTest, ExpiredRecordsStayInvisibleAfterRecoveryWithoutALocalWrite) {
  TempDir dir;
  int64_t now = 1'000'000;
  StoreOptions options;
  options.dir = dir.Sub("db");
  options.now_ms = [&] { return now; };
  {
    std::unique_ptr<Store> store;
    ASSERT_TRUE(Store::Open(options, &store).ok());
    ASSERT_TRUE(PutOne(store.get(), "short", Value("v", now + 10)).ok());
    ASSERT_TRUE(PutOne(store.get(), "long", Value("v", now + 100000)).ok());
    ASSERT_TRUE(PutOne(store.get(), "forever", Value("v")).ok());
    EXPECT_NE(store->Get("short"), nullptr);
  }
  now += 1000;
  std::unique_ptr<Store> store;
  uint64_t before = 0;
  {
    std::unique_ptr<Store> peek;
    ASSERT_TRUE(Store::Open(options, &peek).ok());
    before = peek->LastSequence();
  }
  ASSERT_TRUE(Store::Open(options, &store).ok());
  // Recovery writes nothing (a replica's journal must hold only its primary's groups): the
  // expired record is loaded, never returned, and left for the primary's sweeper.
  EXPECT_EQ(store->LastSequence(), before);
  EXPECT_EQ(store->keyspace().Size(), 3u);
  EXPECT_EQ(store->Get("short"), nullptr);
  EXPECT_EQ(store->Get("long")->expire_at_ms(), 1'000'000 + 100000);
  EXPECT_NE(store->Get("forever"), nullptr);
}

TEST(StoreTest, OpenFailsWithAReasonOnAnUnusableDirectory) {
  TempDir dir;
  { std::ofstream(dir.Sub("file")) << "x"; }
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.dir = dir.Sub("file");
  Status s = Store::Open(options, &store);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
}

}  // namespace
}  // namespace devstate
