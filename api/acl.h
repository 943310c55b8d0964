// Acl: users, passwords and permissions in Redis ACL-file syntax, shared by the RESP and
// HTTP listeners.
//
//   user default on nopass ~* &* +@all
//   user lambda-user on >example-password ~device:* &* +@all -@admin
//   user reader on #<sha256-hex> ~device:* +@read
//
// Rules are applied left to right as Redis applies them: `on` `off` `>pass` `<pass`
// `#hash` `!hash` `nopass` `resetpass` `~pattern` `%R~pattern` `%W~pattern` `%RW~pattern`
// `allkeys` `resetkeys` `&pattern` `allchannels` `resetchannels` `+@cat` `-@cat` `+cmd`
// `-cmd` `+cmd|sub` `-cmd|sub` `allcommands` `nocommands` `reset`. Passwords are kept only
// as SHA-256 hashes. A command is allowed by the last rule that names it or one of its
// categories (the same answer as Redis's bitmap, which each rule overwrites in turn).
//
// The `default` user is `on nopass ~* &* +@all` unless the file declares it. HTTP bearer
// tokens come from a separate file of `<user> <token>` lines (`#<sha256-hex>` for a hashed
// token) and act as that user.
//
// Thread-safe: Load swaps in a new set of users; a connection keeps the User it
// authenticated as, and re-resolves it by name when generation() moves on.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth_throttle.h"
#include "store/status.h"

namespace devstate::acl {

// The lower-case hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

struct User {
  struct KeyPattern {
    std::string pattern;
    bool read = true;
    bool write = true;
  };
  struct CommandRule {
    bool allow = false;
    bool category = false;  // name is a category ("all" for every command)
    std::string name;       // lower case: "get", "client|kill", "read"
  };

  std::string name;
  bool enabled = false;
  bool nopass = false;
  std::vector<std::string> password_hashes;  // SHA-256 hex
  std::vector<KeyPattern> keys;
  std::vector<std::string> channels;  // accepted and listed; devstate has no pub/sub
  std::vector<CommandRule> rules;

  // Applies one rule ("on", ">secret", "~device:*", "+@read", ...).
  Status Apply(std::string_view rule);

  bool CheckPassword(std::string_view password) const;
  // `command` is "get" or "client|kill"; `categories` without '@'.
  bool AllowsCommand(std::string_view command,
                     const std::vector<std::string_view>& categories) const;
  bool AllowsKey(std::string_view key, bool write) const;
  // +@all last and a read-write `*` key pattern: every check would pass (the common
  // default user), so callers may skip building what they would check.
  bool AllowsEverything() const;
  // The user as ACL LIST shows it: "user NAME on #<hash> ~device:* &* +@all".
  std::string Describe() const;
};

// Parses one `user NAME rule...` line.
Status ParseUserLine(std::string_view line, User* user);

// A user named in a failed authentication or denied a command (ACL LOG).
struct LogEntry {
  std::string reason;   // "auth", "command", "key"
  std::string context;  // "toplevel", "multi", "http"
  std::string object;   // the command or key; for auth, "AUTH" / "HELLO" / "http"
  std::string username;
  std::string client_info{};
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  uint64_t count = 1;
  uint64_t entry_id = 0;
};

class Acl {
 public:
  Acl();

  // Reads the ACL file (empty path: only the default user) and the token file (may be
  // empty). On error nothing changes and the message names file and line.
  Status Load(const std::string& acl_file, const std::string& token_file);
  Status Reload();  // ACL LOAD: the same files again

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // True when a new connection must authenticate (default user off or with a password).
  bool auth_required() const;

  // The user a new connection starts as: default, when it is on and has nopass.
  std::shared_ptr<const User> DefaultUser() const;
  std::shared_ptr<const User> Find(std::string_view name) const;
  // nullptr if the user is unknown, disabled, or the password is wrong.
  std::shared_ptr<const User> Authenticate(std::string_view name, std::string_view password) const;
  std::shared_ptr<const User> AuthenticateToken(std::string_view token) const;
  std::vector<std::shared_ptr<const User>> Users() const;

  // Failed authentications, counted per address and per user for RESP and HTTP together.
  AuthThrottle& throttle() { return throttle_; }

  // ACL LOG. Repeated entries (same reason, object, user, context) bump a count.
  void Log(LogEntry entry, int64_t now_ms);
  std::vector<LogEntry> LogEntries(size_t count) const;
  void ResetLog();

 private:
  struct State {
    std::map<std::string, std::shared_ptr<const User>, std::less<>> users;
    std::map<std::string, std::string, std::less<>> tokens;  // token hash -> user
  };
  std::shared_ptr<const State> state() const;

  mutable std::mutex mu_;  // guards everything below
  std::shared_ptr<const State> state_;
  std::string acl_file_;
  std::string token_file_;
  std::deque<LogEntry> log_;
  uint64_t next_log_id_ = 0;
  std::atomic<uint64_t> generation_{1};
  AuthThrottle throttle_;
};

// The ACL categories Redis defines (ACL CAT).
const std::vector<std::string_view>& Categories();

}  // namespace devstate::acl
