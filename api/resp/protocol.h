// RESP wire format: parsing requests and writing replies (RESP2, and RESP3 after HELLO 3).
//
// RequestParser takes commands from a connection's input buffer: multibulk requests
// (`*<n>\r\n$<len>\r\n...`) as every client library sends them, and inline commands
// (`PING\r\n`, `SET k "a b"\r\n`) as typed into telnet. It is incremental and keeps its
// place, as Redis does (multibulklen, bulklen): the arguments of a command already read
// are taken from the buffer (consumed) and kept here, and only the argument in progress
// stays in the caller's buffer; an inline line is scanned for its end only once. So a
// command costs time linear in its size however it is split across reads. Limits are
// enforced before memory is committed: bulk length, argument count, inline line length.
// A protocol error is final: the caller answers it and closes the connection.
//
// ReplyWriter appends replies to a string in the connection's protocol version. Neither
// class is thread-safe; each connection has its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devstate::resp {

struct ParserLimits {
  size_t max_bulk_bytes = 0;            // limits.max_bulk_bytes (api/options.h)
  size_t max_multibulk = 0;             // limits.max_multibulk: arguments in one command
  size_t max_inline_bytes = 64 * 1024;  // one inline command line, as Redis's
};

class RequestParser {
 public:
  enum class Result { kCommand, kIncomplete, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Takes one command from the front of `input` into `*args`; *consumed is how many bytes
  // the caller must drop: the command's, or on kIncomplete those of the arguments already
  // read (kept here) and of empty lines skipped. kIncomplete: call again with the rest
  // and more bytes. kError: error() says why.
  Result Next(std::string_view input, size_t* consumed, std::vector<std::string>* args);

  const std::string& error() const { return error_; }

  // Bytes of the command in progress that the parser holds (its arguments read so far):
  // the client's query buffer counts them with its own.
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  Result ParseInline(std::string_view in, size_t* consumed, std::vector<std::string>* args);
  Result ParseMultibulk(std::string_view in, size_t* consumed, std::vector<std::string>* args);
  Result Fail(std::string message);

  ParserLimits limits_;
  std::string error_;
  // The multibulk command in progress: arguments still to read (0: none in progress), the
  // length of the one whose header was read (-1: none), and those read so far.
  int64_t multibulk_left_ = 0;
  int64_t bulk_len_ = -1;
  std::vector<std::string> partial_;
  size_t partial_count_ = 0;
  size_t pending_bytes_ = 0;
  // An inline line in progress: how much of the buffer was already searched for '\n'.
  size_t inline_scanned_ = 0;
};

// Splits an inline command line like Redis's sdssplitargs: spaces separate arguments,
// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
// Returns false on unbalanced quotes.
bool SplitInline(std::string_view line, std::vector<std::string>* args);

// The error replies a server wrote: in all (INFO's total_error_replies) and by their first
// word (INFO errorstats: ERR, WRONGTYPE, NOAUTH ...), for at most kMaxPrefixes words, as
// Redis keeps 128 (past them only the total counts). Thread-safe.
class ErrorReplies {
 public:
  static constexpr size_t kMaxPrefixes = 128;
  void Count(std::string_view error);
  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  std::vector<std::pair<std::string, uint64_t>> ByPrefix() const;  // in byte order
  void Reset();

 private:
  std::atomic<uint64_t> total_{0};
  mutable std::mutex mu_;
  std::map<std::string, uint64_t, std::less<>> by_prefix_;
};

class ReplyWriter {
 public:
  // `errors` (optional) counts the error replies written.
  ReplyWriter(std::string* out, int protocol, ErrorReplies* errors = nullptr)
      : out_(out), protocol_(protocol), errors_(errors) {}

  void Simple(std::string_view s);
  void Error(std::string_view s);  // s without the leading '-', e.g. "ERR syntax error"
  void Integer(int64_t n);
  void Bulk(std::string_view s);
  void Null();       // RESP2 $-1, RESP3 _
  void NullArray();  // RESP2 *-1, RESP3 _
  void Array(size_t n);
  void Map(size_t pairs);  // RESP3 %, RESP2 a flat array of 2n
  void Set(size_t n);      // RESP3 ~, RESP2 an array
  void Double(double d);   // RESP3 ,  RESP2 a bulk string; %.17g as Redis
  // Redis's addReplyHumanLongDouble (GEOPOS): %.17Lf, trailing zeros trimmed; RESP3 ,
  void HumanLongDouble(long double d);
  void Verbatim(std::string_view s);  // RESP3 =txt:, RESP2 a bulk string
  void Ok() { Simple("OK"); }

  int protocol() const { return protocol_; }
  std::string* out() { return out_; }
  ErrorReplies* error_counter() const { return errors_; }
  size_t errors_written() const { return errors_written_; }

 private:
  std::string* out_;
  int protocol_;
  ErrorReplies* errors_;
  size_t errors_written_ = 0;
};

}  // namespace devstate::resp
