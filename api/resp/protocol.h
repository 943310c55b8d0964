// RESP wire format: parsing requests and writing replies (RESP2, and RESP3 after HELLO 3).
//
// RequestParser takes commands from a connection's input buffer: multibulk requests
// (`*<n>\r\n$<len>\r\n...`) as every client library sends them, and inline commands
// (`PING\r\n`, `SET k "a b"\r\n`) as typed into telnet. It is incremental: a partial
// request is left in the buffer until more bytes arrive. Limits are enforced before memory
// is committed to a request: bulk length, argument count, inline line length. A protocol
// error is final: the caller answers it and closes the connection, as Redis does.
//
// ReplyWriter appends replies to a string in the connection's protocol version. Neither
// class is thread-safe; each connection has its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace devstate::resp {

struct ParserLimits {
  size_t max_bulk_bytes = 8 << 20;      // limits.max_bulk_bytes
  size_t max_multibulk = 1024 * 1024;   // arguments in one command
  size_t max_inline_bytes = 64 * 1024;  // one inline command line
};

class RequestParser {
 public:
  enum class Result { kCommand, kIncomplete, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Takes one command from the front of `input` into `*args`; *consumed is how many bytes
  // the caller may drop (the command, and any empty lines skipped before it; on
  // kIncomplete only those). kIncomplete: wait for more bytes. kError: error() says why.
  Result Next(std::string_view input, size_t* consumed, std::vector<std::string>* args);

  const std::string& error() const { return error_; }

 private:
  Result ParseInline(std::string_view in, size_t* consumed, std::vector<std::string>* args);
  Result ParseMultibulk(std::string_view in, size_t* consumed, std::vector<std::string>* args);
  Result Fail(std::string message);

  ParserLimits limits_;
  std::string error_;
};

// Splits an inline command line like Redis's sdssplitargs: spaces separate arguments,
// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'.
// Returns false on unbalanced quotes.
bool SplitInline(std::string_view line, std::vector<std::string>* args);

class ReplyWriter {
 public:
  // `errors` (optional) counts the error replies written (INFO's total_error_replies).
  ReplyWriter(std::string* out, int protocol, std::atomic<uint64_t>* errors = nullptr)
      : out_(out), protocol_(protocol), errors_(errors) {}

  void Simple(std::string_view s);
  void Error(std::string_view s);  // s without the leading '-', e.g. "ERR syntax error"
  void Integer(int64_t n);
  void Bulk(std::string_view s);
  void Null();       // RESP2 $-1, RESP3 _
  void NullArray();  // RESP2 *-1, RESP3 _
  void Array(size_t n);
  void Map(size_t pairs);             // RESP3 %, RESP2 a flat array of 2n
  void Set(size_t n);                 // RESP3 ~, RESP2 an array
  void Double(double d);              // RESP3 ,  RESP2 a bulk string
  void Verbatim(std::string_view s);  // RESP3 =txt:, RESP2 a bulk string
  void Ok() { Simple("OK"); }

  int protocol() const { return protocol_; }
  std::string* out() { return out_; }
  std::atomic<uint64_t>* error_counter() const { return errors_; }

 private:
  std::string* out_;
  int protocol_;
  std::atomic<uint64_t>* errors_;
};

}  // namespace devstate::resp
