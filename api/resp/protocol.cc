#include "api/resp/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "service/text.h"

namespace devstate::resp {
namespace {

// Parses the decimal integer in [p, end) that ends at "\r\n"; false on anything else.
bool ParseLength(std::string_view text, int64_t* n) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *n);
  return ec == std::errc() && end == text.data() + text.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

RequestParser::Result RequestParser::Fail(std::string message) {
  error_ = std::move(message);
  return Result::kError;
}

RequestParser::Result RequestParser::Next(std::string_view in, size_t* consumed,
                                          std::vector<std::string>* args) {
  size_t offset = 0;
  for (;;) {
    const std::string_view rest = in.substr(offset);
    if (multibulk_left_ == 0 && rest.empty()) {
      *consumed = offset;
      return Result::kIncomplete;
    }
    size_t used = 0;
    const Result r = multibulk_left_ > 0 || rest.front() == '*' ? ParseMultibulk(rest, &used, args)
                                                                : ParseInline(rest, &used, args);
    offset += used;
    if (r != Result::kCommand) {
      *consumed = offset;
      return r;
    }
    if (!args->empty()) {
      *consumed = offset;
      return Result::kCommand;
    }
    // An empty line or "*0" runs nothing: skip it.
  }
}

RequestParser::Result RequestParser::ParseInline(std::string_view in, size_t* consumed,
                                                 std::vector<std::string>* args) {
  // Search only what the last call did not: a line sent a byte at a time costs its length.
  const size_t nl = in.find('\n', std::min(inline_scanned_, in.size()));
  if (nl == std::string_view::npos) {
    if (in.size() > limits_.max_inline_bytes) return Fail("Protocol error: too big inline request");
    inline_scanned_ = in.size();
    *consumed = 0;
    return Result::kIncomplete;
  }
  inline_scanned_ = 0;
  if (nl > limits_.max_inline_bytes) return Fail("Protocol error: too big inline request");
  std::string_view line = in.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!SplitInline(line, args)) return Fail("Protocol error: unbalanced quotes in request");
  if (args->size() > limits_.max_multibulk) return Fail("Protocol error: invalid multibulk length");
  *consumed = nl + 1;
  return Result::kCommand;
}

RequestParser::Result RequestParser::ParseMultibulk(std::string_view in, size_t* consumed,
                                                    std::vector<std::string>* args) {
  size_t pos = 0;
  *consumed = 0;
  auto line = [&](std::string_view* text) {
    const size_t cr = in.find("\r\n", pos);
    if (cr == std::string_view::npos) return false;
    *text = in.substr(pos, cr - pos);
    pos = cr + 2;
    return true;
  };
  std::string_view text;
  if (multibulk_left_ == 0) {  // a new command: its count line
    if (!line(&text)) {
      if (in.size() > limits_.max_inline_bytes) {
        return Fail("Protocol error: too big mbulk count string");
      }
      return Result::kIncomplete;
    }
    int64_t count = 0;
    if (!ParseLength(text.substr(1), &count) ||
        count > static_cast<int64_t>(limits_.max_multibulk)) {
      return Fail("Protocol error: invalid multibulk length");
    }
    *consumed = pos;
    if (count <= 0) {  // "*0" and "*-1" are no command at all
      args->clear();
      return Result::kCommand;
    }
    multibulk_left_ = count;
    bulk_len_ = -1;
    partial_count_ = 0;
    pending_bytes_ = 0;
    if (partial_.size() < static_cast<size_t>(std::min<int64_t>(count, 1024))) {
      partial_.resize(static_cast<size_t>(std::min<int64_t>(count, 1024)));
    }
  }
  while (multibulk_left_ > 0) {
    if (bulk_len_ < 0) {
      if (pos >= in.size()) return Result::kIncomplete;
      if (in[pos] != '$') {
        return Fail(fmt::format("Protocol error: expected '$', got '{}'", in[pos]));
      }
      if (!line(&text)) {
        if (in.size() - pos > 32) return Fail("Protocol error: too big bulk count string");
        return Result::kIncomplete;
      }
      int64_t len = 0;
      if (!ParseLength(text.substr(1), &len) || len < 0 ||
          static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
        return Fail("Protocol error: invalid bulk length");
      }
      bulk_len_ = len;
      *consumed = pos;  // the header is taken; the payload waits in the caller's buffer
    }
    const size_t len = static_cast<size_t>(bulk_len_);
    if (in.size() - pos < len + 2) return Result::kIncomplete;
    if (in.substr(pos + len, 2) != "\r\n") {
      return Fail("Protocol error: bulk string is not followed by CRLF");
    }
    // Arguments are assigned in place, so strings reused from command to command keep
    // their memory.
    if (partial_.size() <= partial_count_) partial_.resize(partial_count_ + 1);
    partial_[partial_count_++].assign(in.substr(pos, len));
    pending_bytes_ += len;
    pos += len + 2;
    *consumed = pos;
    bulk_len_ = -1;
    --multibulk_left_;
  }
  // Complete: the vectors change places, so the parser reuses the caller's strings (their
  // memory) next time, and a command of a million arguments is handed over in O(1).
  args->swap(partial_);
  args->resize(partial_count_);
  if (partial_.size() > 1024) std::vector<std::string>().swap(partial_);  // a huge command's
  partial_count_ = 0;
  pending_bytes_ = 0;
  return Result::kCommand;
}

bool SplitInline(std::string_view line, std::vector<std::string>* args) {
  args->clear();
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i == n) return true;
    std::string current;
    bool in_double = false, in_single = false;
    for (;;) {
      if (in_double) {
        if (i == n) return false;
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          current.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 4;
          continue;
        }
        if (line[i] == '\\' && i + 1 < n) {
          const char c = line[i + 1];
          current.push_back(c == 'n'   ? '\n'
                            : c == 'r' ? '\r'
                            : c == 't' ? '\t'
                            : c == 'b' ? '\b'
                            : c == 'a' ? '\a'
                                       : c);
          i += 2;
          continue;
        }
        if (line[i] == '"') {
          ++i;
          // A closing quote must be followed by a space or the end.
          if (i < n && !std::isspace(static_cast<unsigned char>(line[i]))) return false;
          break;
        }
        current.push_back(line[i++]);
      } else if (in_single) {
        if (i == n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          current.push_back('\'');
          i += 2;
          continue;
        }
        if (line[i] == '\'') {
          ++i;
          if (i < n && !std::isspace(static_cast<unsigned char>(line[i]))) return false;
          break;
        }
        current.push_back(line[i++]);
      } else {
        if (i == n || std::isspace(static_cast<unsigned char>(line[i]))) break;
        if (line[i] == '"') {
          in_double = true;
          ++i;
        } else if (line[i] == '\'') {
          in_single = true;
          ++i;
        } else {
          current.push_back(line[i++]);
        }
      }
    }
    args->push_back(std::move(current));
  }
}

void ReplyWriter::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void ErrorReplies::Count(std::string_view error) {
  total_.fetch_add(1, std::memory_order_relaxed);
  const std::string_view prefix = error.substr(0, error.find(' '));
  std::lock_guard lock(mu_);
  auto it = by_prefix_.find(prefix);
  if (it != by_prefix_.end()) {
    ++it->second;
  } else if (by_prefix_.size() < kMaxPrefixes) {
    by_prefix_.emplace(std::string(prefix), 1);
  }
}

std::vector<std::pair<std::string, uint64_t>> ErrorReplies::ByPrefix() const {
  std::lock_guard lock(mu_);
  return {by_prefix_.begin(), by_prefix_.end()};
}

void ErrorReplies::Reset() {
  std::lock_guard lock(mu_);
  total_.store(0, std::memory_order_relaxed);
  by_prefix_.clear();
}

void ReplyWriter::Error(std::string_view s) {
  ++errors_written_;
  if (errors_ != nullptr) errors_->Count(s);
  out_->push_back('-');
  // A reply line must not break: newlines in a message become spaces.
  for (char c : s) out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out_->append("\r\n");
}

void ReplyWriter::Integer(int64_t n) { fmt::format_to(std::back_inserter(*out_), ":{}\r\n", n); }

void ReplyWriter::Bulk(std::string_view s) {
  fmt::format_to(std::back_inserter(*out_), "${}\r\n", s.size());
  out_->append(s);
  out_->append("\r\n");
}

void ReplyWriter::Null() { out_->append(protocol_ >= 3 ? "_\r\n" : "$-1\r\n"); }
void ReplyWriter::NullArray() { out_->append(protocol_ >= 3 ? "_\r\n" : "*-1\r\n"); }
void ReplyWriter::Array(size_t n) { fmt::format_to(std::back_inserter(*out_), "*{}\r\n", n); }

void ReplyWriter::Map(size_t pairs) {
  if (protocol_ >= 3) {
    fmt::format_to(std::back_inserter(*out_), "%{}\r\n", pairs);
  } else {
    Array(2 * pairs);
  }
}

void ReplyWriter::Set(size_t n) {
  if (protocol_ >= 3) {
    fmt::format_to(std::back_inserter(*out_), "~{}\r\n", n);
  } else {
    Array(n);
  }
}

void ReplyWriter::Double(double d) {
  // Redis's addReplyDouble: %.17g, "inf" and "-inf" spelled out.
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(FormatDouble(d));
    out_->append("\r\n");
  } else {
    Bulk(FormatDouble(d));
  }
}

void ReplyWriter::HumanLongDouble(long double d) {
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(FormatLongDouble(d));
    out_->append("\r\n");
  } else {
    Bulk(FormatLongDouble(d));
  }
}

void ReplyWriter::Verbatim(std::string_view s) {
  if (protocol_ >= 3) {
    fmt::format_to(std::back_inserter(*out_), "={}\r\ntxt:", s.size() + 4);
    out_->append(s);
    out_->append("\r\n");
  } else {
    Bulk(s);
  }
}

}  // namespace devstate::resp
