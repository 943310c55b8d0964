#include "api/resp/monitor.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>

#include "api/resp/command_table.h"

namespace devstate::resp {

void Monitors::Add(ClientState* client) {
  std::lock_guard lock(mu_);
  if (clients_.insert(client).second) count_.fetch_add(1, std::memory_order_relaxed);
}

void Monitors::Remove(ClientState* client) {
  std::lock_guard lock(mu_);
  if (clients_.erase(client) > 0) count_.fetch_sub(1, std::memory_order_relaxed);
}

void Monitors::Feed(std::string_view peer, const std::vector<std::string>& args) {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string line = fmt::format("+{}.{:06} [0 {}] ", now / 1000000, now % 1000000, peer);
  const std::vector<std::string> shown =
      Redacted(args.empty() ? std::string_view() : std::string_view(Lower(args[0])), args);
  for (size_t i = 0; i < shown.size(); ++i) {
    if (i > 0) line.push_back(' ');
    AppendQuoted(&line, shown[i]);
  }
  line.append("\r\n");
  std::lock_guard lock(mu_);
  for (ClientState* c : clients_) {
    if (c->push) c->push(line);
  }
}

void AppendQuoted(std::string* out, std::string_view text) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '\\':
      case '"':
        out->push_back('\\');
        out->push_back(c);
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      default:
        if (std::isprint(static_cast<unsigned char>(c))) {
          out->push_back(c);
        } else {
          fmt::format_to(std::back_inserter(*out), "\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
  }
  out->push_back('"');
}

std::vector<std::string> Redacted(std::string_view command, std::vector<std::string> args) {
  if (command == "auth") {
    for (size_t i = 1; i < args.size(); ++i) args[i] = "(redacted)";
  } else if (command == "hello") {
    for (size_t i = 1; i + 2 < args.size(); ++i) {
      if (EqualsNoCase(args[i], "auth")) args[i + 1] = args[i + 2] = "(redacted)";
    }
  }
  return args;
}

}  // namespace devstate::resp
