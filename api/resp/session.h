// Session: one RESP connection. It reads and parses commands (several ahead, prefetching
// the keys the reads among them will look up), runs them through Dispatch in arrival
// order under ReplyOrder's rules, gathers the writes of one read's worth of commands into
// one store write, and writes replies back in order, several per system call.
//
// Threads: everything runs on the connection's thread (its event loop, or its Asio
// executor for TLS), except Complete(), which the thread that completes a commit calls:
// replies of one commit group, often for many connections, are queued per session and
// taken in by one post per loop (ReadySessions), not one wake-up per reply.
//
// Limits: query buffer (unparsed bytes and the command in progress), output buffer (a
// reply too large for it disconnects the client), commands in flight, idle timeout, TLS
// handshake timeout; a failed AUTH's answer waits as the failure budget says
// (acl::AuthThrottle). PSYNC hands the connection over (Call::take_over) once its
// reply is written. A client whose replies wait unread
// beyond kOutputPause has its commands paused until it reads (back-pressure).
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/resp/command_table.h"
#include "api/resp/reply_order.h"
#include "api/resp/transport.h"

namespace devstate::resp {

class Session;

// Sessions holding commit replies not yet taken in, for one loop. One post takes in all of
// them (inline on the session's loop thread, through its executor otherwise).
class ReadySessions : public std::enable_shared_from_this<ReadySessions> {
 public:
  explicit ReadySessions(std::function<void(Task)> post) : post_(std::move(post)) {}
  void Add(std::shared_ptr<Session> session);
  // Drops the sessions waiting to be taken in (at shutdown, once the loop is stopped).
  void Clear();

 private:
  void Drain();

  const std::function<void(Task)> post_;  // onto the loop the sessions run on
  absl::Mutex mu_;
  std::vector<std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  bool posted_ ABSL_GUARDED_BY(mu_) = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::unique_ptr<Transport> io, std::shared_ptr<ServerState> server,
          std::shared_ptr<ReadySessions> ready_sessions);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts the connection; `over_capacity`: refuse it (max clients) with an error.
  void Run(bool over_capacity);

 private:
  friend class ReadySessions;  // takes in commit replies (TakeCompleted)
  using Slot = ReplyOrder::Slot;

  const ServerLimits& limits() const { return server_->limits; }
  void Start(bool over_capacity);
  std::string_view Unparsed() const;
  void ReadNext();
  bool ParseAhead();
  void PrefetchReads();
  void ReadMore();
  void OnCommand(const CommandSpec* spec, std::vector<std::string>& args);
  void Execute(std::shared_ptr<Slot> slot, const CommandSpec* spec, std::vector<std::string>& args);
  void Complete(const std::shared_ptr<Slot>& slot, std::string reply);
  void TakeCompleted();
  // A pub/sub message for this subscriber (any thread).
  void Push(const std::string& frame);
  void FlushReady();
  void Continue();
  void SubmitWrites();
  void WriteNext();
  void Fatal(std::string_view message);
  void ArmIdle();
  void Close();
  void PublishBufferSizes();
  void HandOver();

  static constexpr size_t kReadSize = 16 * 1024;
  static constexpr size_t kParseAhead = 32;
  static constexpr size_t kKeptArgBytes = 16 * 1024;
  static constexpr size_t kKeptArgs = 1024;
  static constexpr size_t kOutputPause = 1 << 20;
  static constexpr std::chrono::seconds kHandshakeTimeout{10};

  std::unique_ptr<Transport> io_;
  std::unique_ptr<Timer> timer_;        // TLS handshake, then idle timeout
  std::unique_ptr<Timer> block_timer_;  // a blocking command's timeout (api/resp/block.h)
  std::shared_ptr<ServerState> server_;
  std::shared_ptr<ReadySessions> ready_sessions_;
  RequestParser parser_;
  std::shared_ptr<ClientState> client_;
  boost::beast::flat_buffer in_;  // received, not yet parsed
  // Commands parsed from in_ and not run yet: parsed_[parsed_next_, parsed_count_). The
  // entries are reused, so their strings keep their capacity from command to command.
  struct Parsed {
    const CommandSpec* spec = nullptr;
    std::vector<std::string> args;
  };
  std::vector<Parsed> parsed_;
  size_t parsed_next_ = 0;
  size_t parsed_count_ = 0;
  ReplyOrder order_;                // commands not answered in order yet
  std::string ready_;               // replies ready to send, in order
  std::string out_;                 // the write in flight
  bool close_after_ready_ = false;  // ready_ ends with a reply after which we close
  absl::Mutex completed_mu_;        // filled by the threads that complete commits
  std::vector<std::pair<std::shared_ptr<Slot>, std::string>> completed_
      ABSL_GUARDED_BY(completed_mu_);
  bool completion_posted_ ABSL_GUARDED_BY(completed_mu_) = false;
  // Pub/sub messages, one after another in one buffer (a delivery is an append, not an
  // allocation), and where each starts (its header becomes RESP3's '>' when taken).
  std::string pushed_ ABSL_GUARDED_BY(completed_mu_);
  std::vector<size_t> pushed_starts_ ABSL_GUARDED_BY(completed_mu_);
  bool push_overflow_ ABSL_GUARDED_BY(completed_mu_) = false;
  // PSYNC: where the connection goes once every reply is written.
  std::function<void(std::unique_ptr<Transport>, std::string)> take_over_;
  PendingWrites writes_;  // writes of the commands parsed in this pass, not yet submitted
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // no more commands will be read
  bool closed_ = false;
  bool handshaken_ = false;
};

}  // namespace devstate::resp
