#include "api/acl.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "api/glob.h"
#include "service/text.h"

namespace devstate::acl {
namespace {

constexpr size_t kMaxLogEntries = 128;  // as Redis's acllog-max-len default

bool IsSha256Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

Status ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(fmt::format("cannot read '{}'", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return Status::OK();
}

// Calls `fn` with each line of `path` that is not blank or a # comment, and its words; an
// error comes back prefixed with "path:line: ". An empty path has no lines.
template <typename Fn>
Status ForEachLine(const std::string& path, Fn&& fn) {
  if (path.empty()) return Status::OK();
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::vector<std::string_view> words = Words(line);
    if (words.empty() || words[0][0] == '#') continue;
    s = fn(std::string_view(line), words);
    if (!s.ok())
      return Status::InvalidArgument(fmt::format("{}:{}: {}", path, number, s.message()));
  }
  return Status::OK();
}

std::shared_ptr<const User> DefaultDefault() {
  auto user = std::make_shared<User>();
  user->name = "default";
  for (std::string_view rule : {"on", "nopass", "~*", "&*", "+@all"}) (void)user->Apply(rule);
  return user;
}

bool ValidName(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) ||
           std::iscntrl(static_cast<unsigned char>(c));
  });
}

}  // namespace

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i)
    fmt::format_to(std::back_inserter(hex), "{:02x}", digest[i]);
  return hex;
}

const std::vector<std::string_view>& Categories() {
  static const std::vector<std::string_view>
      categories = {"keyspace",  "read",     "write",     "set",        "sortedset",
                    "list",      "hash",     "string",    "bitmap",     "hyperloglog",
                    "geo",       "stream",   "pubsub",    "admin",      "fast",
                    "slow",      "blocking", "dangerous", "connection", "transaction",
                    "scripting", "json"};  // RedisJSON's category (Redis 7.2 lets modules add one)
  return categories;
}

Status User::Apply(std::string_view rule) {
  auto syntax = [&] {
    return Status::InvalidArgument(
        fmt::format("Error in ACL SETUSER modifier '{}': Syntax error", rule));
  };
  if (rule.empty()) return syntax();
  const std::string lower = Lower(rule);
  if (lower == "on") {
    enabled = true;
  } else if (lower == "off") {
    enabled = false;
  } else if (lower == "nopass") {
    nopass = true;
    password_hashes.clear();
  } else if (lower == "resetpass") {
    nopass = false;
    password_hashes.clear();
  } else if (lower == "allkeys") {
    keys = {{"*", true, true}};
  } else if (lower == "resetkeys") {
    keys.clear();
  } else if (lower == "allchannels") {
    channels = {"*"};
  } else if (lower == "resetchannels") {
    channels.clear();
  } else if (lower == "allcommands" || lower == "nocommands") {
    rules = {{lower == "allcommands", true, "all"}};
  } else if (lower == "reset") {
    enabled = false;
    nopass = false;
    password_hashes.clear();
    keys.clear();
    channels.clear();
    rules = {{false, true, "all"}};
  } else if (rule[0] == '>' || rule[0] == '<') {
    const std::string hash = Sha256Hex(rule.substr(1));
    auto it = std::find(password_hashes.begin(), password_hashes.end(), hash);
    if (rule[0] == '>') {
      if (it == password_hashes.end()) password_hashes.push_back(hash);
      nopass = false;
    } else {
      if (it == password_hashes.end()) {
        return Status::InvalidArgument(
            fmt::format("Error in ACL SETUSER modifier '{}': no such password", rule.substr(0, 1)));
      }
      password_hashes.erase(it);
    }
  } else if (rule[0] == '#' || rule[0] == '!') {
    const std::string hash = Lower(rule.substr(1));
    if (!IsSha256Hex(hash)) {
      return Status::InvalidArgument(
          fmt::format("Error in ACL SETUSER modifier '{}': The password hash must be exactly 64 "
                      "characters and contain "
                      "only lowercase hexadecimal characters",
                      rule));
    }
    auto it = std::find(password_hashes.begin(), password_hashes.end(), hash);
    if (rule[0] == '#') {
      if (it == password_hashes.end()) password_hashes.push_back(hash);
      nopass = false;
    } else if (it != password_hashes.end()) {
      password_hashes.erase(it);
    }
  } else if (rule[0] == '~' || rule[0] == '%') {
    KeyPattern key;
    std::string_view pattern = rule.substr(1);
    if (rule[0] == '%') {
      const size_t tilde = rule.find('~');
      if (tilde == std::string_view::npos || tilde == 1) return syntax();
      const std::string perms = Lower(rule.substr(1, tilde - 1));
      if (perms.find_first_not_of("rw") != std::string::npos) return syntax();
      key.read = perms.find('r') != std::string::npos;
      key.write = perms.find('w') != std::string::npos;
      pattern = rule.substr(tilde + 1);
    }
    key.pattern = std::string(pattern);
    keys.push_back(std::move(key));
  } else if (rule[0] == '&') {
    channels.emplace_back(rule.substr(1));
  } else if (rule[0] == '+' || rule[0] == '-') {
    CommandRule r;
    r.allow = rule[0] == '+';
    std::string_view name = rule.substr(1);
    if (!name.empty() && name[0] == '@') {
      r.category = true;
      r.name = Lower(name.substr(1));
      const auto& all = Categories();
      if (r.name != "all" && std::find(all.begin(), all.end(), r.name) == all.end()) {
        return Status::InvalidArgument(fmt::format(
            "Error in ACL SETUSER modifier '{}': Unknown command or category name in ACL", rule));
      }
    } else {
      if (name.empty() || name.find_first_of("@~&") != std::string_view::npos) return syntax();
      r.name = Lower(name);
    }
    rules.push_back(std::move(r));
  } else {
    return syntax();
  }
  return Status::OK();
}

bool User::CheckPassword(std::string_view password) const {
  if (!enabled) return false;
  if (nopass) return true;
  const std::string hash = Sha256Hex(password);
  bool match = false;
  for (const std::string& h : password_hashes) {
    match |= h.size() == hash.size() && CRYPTO_memcmp(h.data(), hash.data(), hash.size()) == 0;
  }
  return match;
}

bool User::AllowsCommand(std::string_view command,
                         const std::vector<std::string_view>& categories) const {
  const size_t bar = command.find('|');
  const std::string_view parent = command.substr(0, bar);
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    bool matches;
    if (it->category) {
      matches = it->name == "all" ||
                std::find(categories.begin(), categories.end(), it->name) != categories.end();
    } else {
      matches = it->name == command || (bar != std::string_view::npos && it->name == parent);
    }
    if (matches) return it->allow;
  }
  return false;
}

bool User::AllowsKey(std::string_view key, bool write) const {
  for (const KeyPattern& k : keys) {
    if ((write ? k.write : k.read) && (k.pattern == "*" || api::GlobMatch(k.pattern, key)))
      return true;
  }
  return false;
}

bool User::AllowsEverything() const {
  const bool all_commands =
      !rules.empty() && rules.back().allow && rules.back().category && rules.back().name == "all";
  return all_commands && std::any_of(keys.begin(), keys.end(), [](const KeyPattern& k) {
           return k.read && k.write && k.pattern == "*";
         });
}

std::string User::Describe() const {
  std::string out = fmt::format("user {} {}", name, enabled ? "on" : "off");
  if (nopass) out += " nopass";
  for (const std::string& h : password_hashes) out += " #" + h;
  if (keys.empty()) out += " resetkeys";
  for (const KeyPattern& k : keys) {
    if (k.read && k.write) {
      out += " ~" + k.pattern;
    } else {
      out += fmt::format(" %{}~{}", k.read ? "R" : "W", k.pattern);
    }
  }
  if (channels.empty()) out += " resetchannels";
  for (const std::string& c : channels) out += " &" + c;
  if (rules.empty()) out += " -@all";
  for (const CommandRule& r : rules)
    out += fmt::format(" {}{}{}", r.allow ? '+' : '-', r.category ? "@" : "", r.name);
  return out;
}

Status ParseUserLine(std::string_view line, User* user) {
  const std::vector<std::string_view> words = Words(line);
  if (words.size() < 2 || Lower(words[0]) != "user") {
    return Status::InvalidArgument("a line must be 'user <name> <rules...>'");
  }
  if (!ValidName(words[1])) return Status::InvalidArgument("invalid user name");
  *user = User();
  user->name = std::string(words[1]);
  for (size_t i = 2; i < words.size(); ++i) {
    Status s = user->Apply(words[i]);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Acl::Acl() {
  auto state = std::make_shared<State>();
  state->users.emplace("default", DefaultDefault());
  state_ = std::move(state);
}

Status Acl::Load(const std::string& acl_file, const std::string& token_file) {
  auto state = std::make_shared<State>();
  Status s =
      ForEachLine(acl_file, [&](std::string_view line, const std::vector<std::string_view>&) {
        auto user = std::make_shared<User>();
        Status parsed = ParseUserLine(line, user.get());
        if (!parsed.ok()) return parsed;
        if (state->users.count(user->name)) {
          return Status::InvalidArgument(fmt::format("duplicate user '{}'", user->name));
        }
        state->users.emplace(user->name, std::move(user));
        return Status::OK();
      });
  if (!s.ok()) return s;
  if (!state->users.count("default")) state->users.emplace("default", DefaultDefault());
  s = ForEachLine(token_file, [&](std::string_view, const std::vector<std::string_view>& words) {
    if (words.size() != 2) return Status::InvalidArgument("a line must be '<user> <token>'");
    if (!state->users.count(words[0])) {
      return Status::InvalidArgument(fmt::format("unknown user '{}'", words[0]));
    }
    std::string hash;
    if (words[1][0] == '#') {
      hash = Lower(words[1].substr(1));
      if (!IsSha256Hex(hash))
        return Status::InvalidArgument("a hashed token must be '#' and 64 hex characters");
    } else {
      if (words[1].size() < 16)
        return Status::InvalidArgument("a token must be at least 16 characters");
      hash = Sha256Hex(words[1]);
    }
    state->tokens[hash] = std::string(words[0]);
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  state_ = std::move(state);
  acl_file_ = acl_file;
  token_file_ = token_file;
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::OK();
}

Status Acl::Reload() {
  std::string acl_file, token_file;
  {
    std::lock_guard lock(mu_);
    acl_file = acl_file_;
    token_file = token_file_;
  }
  if (acl_file.empty())
    return Status::InvalidArgument(
        "This Redis instance is not configured to use an ACL file. You may want to specify users "
        "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
        "configuration file set) in order to store users in the Redis configuration.");
  return Load(acl_file, token_file);
}

std::shared_ptr<const Acl::State> Acl::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool Acl::auth_required() const { return DefaultUser() == nullptr; }

std::shared_ptr<const User> Acl::DefaultUser() const {
  auto user = Find("default");
  return user && user->enabled && user->nopass ? user : nullptr;
}

std::shared_ptr<const User> Acl::Find(std::string_view name) const {
  auto s = state();
  auto it = s->users.find(name);
  return it == s->users.end() ? nullptr : it->second;
}

std::shared_ptr<const User> Acl::Authenticate(std::string_view name,
                                              std::string_view password) const {
  auto user = Find(name);
  if (user && user->CheckPassword(password)) return user;
  return nullptr;
}

std::shared_ptr<const User> Acl::AuthenticateToken(std::string_view token) const {
  auto s = state();
  auto it = s->tokens.find(Sha256Hex(token));
  if (it != s->tokens.end()) {
    auto user = s->users.find(it->second);
    if (user != s->users.end() && user->second->enabled) return user->second;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const User>> Acl::Users() const {
  std::vector<std::shared_ptr<const User>> users;
  for (const auto& [name, user] : state()->users) users.push_back(user);
  return users;
}

void Acl::Log(LogEntry entry, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (LogEntry& e : log_) {
    if (e.reason == entry.reason && e.object == entry.object && e.username == entry.username &&
        e.context == entry.context) {
      ++e.count;
      e.updated_ms = now_ms;
      e.client_info = std::move(entry.client_info);
      return;
    }
  }
  entry.created_ms = entry.updated_ms = now_ms;
  entry.entry_id = next_log_id_++;
  log_.push_front(std::move(entry));
  if (log_.size() > kMaxLogEntries) log_.pop_back();
}

std::vector<LogEntry> Acl::LogEntries(size_t count) const {
  std::lock_guard lock(mu_);
  std::vector<LogEntry> out(log_.begin(),
                            log_.begin() + static_cast<ptrdiff_t>(std::min(count, log_.size())));
  return out;
}

void Acl::ResetLog() {
  std::lock_guard lock(mu_);
  log_.clear();
}

}  // namespace devstate::acl
