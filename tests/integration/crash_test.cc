// Crash test: a child process writes with many concurrent writers and reports every
// acknowledged write; the parent kill -9s it at random instants, reopens the store and
// checks that every acknowledged write is there, whole.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "store/store.h"
#include "tests/integration/crash_payload.h"
#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

using crash::Stamp;

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of the child's stdout
};

Child Spawn(const std::string& dir, uint64_t round, int writers) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const std::string r = std::to_string(round), w = std::to_string(writers);
    execl(CRASH_WRITER_PATH, CRASH_WRITER_PATH, dir.c_str(), r.c_str(), w.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  c.out = fds[0];
  return c;
}

// Parses complete "ack <key> <round> <n>" lines from `buffer` into `acked`.
void TakeLines(std::string* buffer, std::map<std::string, Stamp>* acked, long* count) {
  size_t start = 0;
  for (size_t nl; (nl = buffer->find('\n', start)) != std::string::npos; start = nl + 1) {
    std::istringstream line(buffer->substr(start, nl - start));
    std::string word, key;
    Stamp s;
    line >> word >> key >> s.round >> s.n;
    ASSERT_EQ(word, "ack");
    Stamp& best = (*acked)[key];
    if (best < s) best = s;
    ++*count;
  }
  buffer->erase(0, start);
}

TEST(CrashTest, NoAcknowledgedWriteIsLostAcrossKill9) {
  testing::TempDir dir;
  const std::string db = dir.Sub("db");
  std::mt19937_64 rng(std::random_device{}());
  std::map<std::string, Stamp> acked;  // the latest acknowledged stamp of each key
  long total_acks = 0;
  constexpr int kRounds = 24;

  for (int round = 1; round <= kRounds; ++round) {
    Child child = Spawn(db, round, 32);
    // A random instant: sometimes during open/recovery, mostly mid-stream.
    const auto kill_at = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::uniform_int_distribution<>(5, 400)(rng));
    std::string buffer;
    char chunk[65536];
    long round_acks = 0;
    bool killed = false;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            kill_at - std::chrono::steady_clock::now())
                            .count();
      if (!killed && left <= 0) {
        ASSERT_EQ(kill(child.pid, SIGKILL), 0);
        killed = true;
      }
      pollfd p{child.out, POLLIN, 0};
      poll(&p, 1, killed ? 1000 : static_cast<int>(std::max<long>(left, 0)));
      if (p.revents == 0) continue;
      const ssize_t n = read(child.out, chunk, sizeof chunk);
      if (n <= 0) break;  // EOF: the child is gone and every reported ack is read
      buffer.append(chunk, static_cast<size_t>(n));
      TakeLines(&buffer, &acked, &round_acks);
    }
    close(child.out);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child.pid, &wstatus, 0), child.pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the writer died on its own in round " << round;
    total_acks += round_acks;

    std::unique_ptr<Store> store;
    StoreOptions options;
    options.dir = db;
    Status s = Store::Open(options, &store);
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.ToString();
    for (const auto& [key, want] : acked) {
      RecordPtr r = store->Get(key);
      ASSERT_NE(r, nullptr) << "round " << round << ": acknowledged key lost: " << key;
      Stamp got;
      ASSERT_TRUE(crash::CheckValue(key, r->value(), &got)) << "torn value under " << key;
      ASSERT_FALSE(got < want) << "round " << round << ": " << key << " went back from "
                               << want.round << ":" << want.n << " to " << got.round << ":"
                               << got.n;
    }
    uint64_t cursor = 0;
    size_t seen = 0;
    do {
      cursor = store->keyspace().Scan(cursor, 100, [&](const std::string& k, const RecordPtr& r) {
        Stamp st;
        EXPECT_TRUE(crash::CheckValue(k, r->value(), &st)) << "torn value under " << k;
        ++seen;
      });
    } while (cursor != 0);
    EXPECT_GE(seen, acked.size());
  }
  RecordProperty("acknowledged_writes", std::to_string(total_acks));
  std::printf("crash test: %d rounds, %ld acknowledged writes checked\n", kRounds, total_acks);
  EXPECT_GT(total_acks, 1000) << "the test must actually exercise writes";
}

}  // namespace
}  // namespace devstate
