// libFuzzer target: the RESP request parser must never crash, leak, hang or over-read on
// any byte stream, must consume only what it returns, and must make progress: every call
// either yields a command, asks for more bytes without consuming past the input, or fails.
// Parsed commands are also encoded back to multibulk and must re-parse to the same args.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/resp/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  devstate::resp::ParserLimits limits{
      .max_bulk_bytes = 4096, .max_multibulk = 64, .max_inline_bytes = 1024};
  devstate::resp::RequestParser parser(limits);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  for (int guard = 0; guard < 100000; ++guard) {
    size_t used = 0;
    const auto r = parser.Next(in, &used, &args);
    if (used > in.size()) std::abort();
    in.remove_prefix(used);
    // The parser keeps its place: an incomplete command may consume the arguments it read,
    // and asking again with the rest must not consume more or change its answer.
    if (r == devstate::resp::RequestParser::Result::kIncomplete) {
      size_t again_used = 0;
      if (parser.Next(in, &again_used, &args) != r || again_used != 0) std::abort();
      return 0;
    }
    if (r != devstate::resp::RequestParser::Result::kCommand) return 0;
    if (args.empty()) std::abort();  // a command has a name
    std::string encoded = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args)
      encoded += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    devstate::resp::RequestParser again(devstate::resp::ParserLimits{
        .max_bulk_bytes = 1 << 20, .max_multibulk = 1 << 20, .max_inline_bytes = 1024});
    std::vector<std::string> back;
    size_t used_back = 0;
    if (again.Next(encoded, &used_back, &back) != devstate::resp::RequestParser::Result::kCommand ||
        back != args || used_back != encoded.size()) {
      std::abort();
    }
  }
  std::abort();  // no progress in 100000 steps: a loop
}
