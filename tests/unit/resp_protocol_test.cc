#include <gtest/gtest.h>

#include <algorithm>

#include "api/resp/command_table.h"
#include "api/resp/protocol.h"

namespace devstate::resp {
namespace {

using Result = RequestParser::Result;

struct Parsed {
  Result result;
  std::vector<std::string> args;
  size_t consumed;
};

constexpr ParserLimits kLimits{.max_bulk_bytes = 8 << 20, .max_multibulk = 1 << 20};

Parsed ParseOne(std::string_view input, ParserLimits limits = kLimits) {
  RequestParser parser(limits);
  Parsed p;
  p.result = parser.Next(input, &p.consumed, &p.args);
  if (p.result == Result::kError) p.args = {parser.error()};
  return p;
}

TEST(RespParserTest, Multibulk) {
  const std::string in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nb!\r\n*1\r\n$4\r\nPING\r\n";
  RequestParser parser(kLimits);
  std::vector<std::string> args;
  size_t used = 0;
  ASSERT_EQ(parser.Next(in, &used, &args), Result::kCommand);
  EXPECT_EQ(args, (std::vector<std::string>{"SET", "k", "a\r\nb!"}));  // binary-safe
  ASSERT_EQ(parser.Next(std::string_view(in).substr(used), &used, &args), Result::kCommand);
  EXPECT_EQ(args, (std::vector<std::string>{"PING"}));
}

// Feeds `in` to one parser in pieces of `step` bytes, as reads would deliver them, keeping
// in a buffer only what the parser did not consume. Returns the commands parsed, and the
// largest buffer the caller had to keep.
std::vector<std::vector<std::string>> Feed(std::string_view in, size_t step, size_t* kept) {
  RequestParser parser(kLimits);
  std::string buffer;
  std::vector<std::vector<std::string>> commands;
  *kept = 0;
  for (size_t at = 0; at < in.size(); at += step) {
    buffer.append(in.substr(at, step));
    for (;;) {
      std::vector<std::string> args;
      size_t used = 0;
      const Result r = parser.Next(buffer, &used, &args);
      buffer.erase(0, used);
      if (r != Result::kCommand) {
        EXPECT_EQ(r, Result::kIncomplete);
        break;
      }
      commands.push_back(std::move(args));
    }
    *kept = std::max(*kept, buffer.size());
  }
  EXPECT_TRUE(buffer.empty());
  return commands;
}

TEST(RespParserTest, ACommandSplitAnywhereParsesTheSame) {
  const std::string in = "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n";
  const std::vector<std::vector<std::string>> want = {{"GET", "0123456789"}, {"PING"}, {"QUIT"}};
  for (size_t step = 1; step <= in.size(); ++step) {
    size_t kept = 0;
    EXPECT_EQ(Feed(in, step, &kept), want) << "pieces of " << step;
  }
  for (size_t n = 0; n < 30; ++n) {  // the first command is 30 bytes
    EXPECT_EQ(ParseOne(std::string_view(in).substr(0, n)).result, Result::kIncomplete) << n;
  }
}

// Redis keeps its place in a command between reads; so does the parser. A command of many
// arguments whose last one arrives a byte at a time leaves only that argument in the
// caller's buffer (the arguments before it were consumed and are kept by the parser), so
// its cost is linear in its size, not quadratic.
TEST(RespParserTest, OnlyTheArgumentInProgressWaitsInTheBuffer) {
  std::string in = "*20001\r\n$4\r\nMSET\r\n";
  for (int i = 0; i < 20000; ++i) in += "$5\r\nvalue\r\n";
  size_t kept = 0;
  const auto commands = Feed(in, 1, &kept);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].size(), 20001u);
  EXPECT_LE(kept, 12u) << "the buffer held more than one argument's bytes";
  RequestParser parser(kLimits);
  std::vector<std::string> args;
  size_t used = 0;
  EXPECT_EQ(parser.Next(std::string_view(in).substr(0, in.size() - 3), &used, &args),
            Result::kIncomplete);
  EXPECT_EQ(in.size() - 3 - used, 4u) << "all but the last argument's bytes are consumed";
  EXPECT_EQ(parser.pending_bytes(), 4u + 5 * 19999);  // the arguments it holds
}

TEST(RespParserTest, InlineWithQuotes) {
  Parsed p = ParseOne("SET k \"a b\\n\\x41\" 'it\\'s'\r\n");
  ASSERT_EQ(p.result, Result::kCommand);
  EXPECT_EQ(p.args, (std::vector<std::string>{"SET", "k", "a b\nA", "it's"}));
  p = ParseOne("  PING  \n");
  EXPECT_EQ(p.args, (std::vector<std::string>{"PING"}));
  EXPECT_EQ(ParseOne("\r\n\r\n").result, Result::kIncomplete);  // empty lines run nothing
  EXPECT_EQ(ParseOne("\r\n\r\n").consumed, 4u);
  p = ParseOne("SET k \"open\r\n");
  EXPECT_EQ(p.result, Result::kError);
  EXPECT_EQ(p.args[0], "Protocol error: unbalanced quotes in request");
}

TEST(RespParserTest, LimitsAndMalformedInputAreErrors) {
  ParserLimits small{.max_bulk_bytes = 16, .max_multibulk = 4, .max_inline_bytes = 32};
  EXPECT_EQ(ParseOne("*1\r\n$17\r\n", small).args[0], "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseOne("*5\r\n", small).args[0], "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseOne(std::string(40, 'a'), small).args[0],
            "Protocol error: too big inline request");
  EXPECT_EQ(ParseOne("*x\r\n").args[0], "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseOne("*1\r\n$-1\r\n").args[0], "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseOne("*1\r\n+PING\r\n").args[0], "Protocol error: expected '$', got '+'");
  EXPECT_EQ(ParseOne("*1\r\n$4\r\nPINGxx").args[0],
            "Protocol error: bulk string is not followed by CRLF");
  // A huge declared bulk within the limit is simply incomplete: nothing is allocated for it.
  EXPECT_EQ(ParseOne("*1\r\n$16\r\nabc", small).result, Result::kIncomplete);
}

TEST(RespReplyTest, Resp2AndResp3) {
  std::string a, b;
  ReplyWriter r2(&a, 2), r3(&b, 3);
  for (ReplyWriter* w : {&r2, &r3}) {
    w->Simple("OK");
    w->Error("ERR bad\r\nthing");
    w->Integer(-7);
    w->Bulk("hi");
    w->Null();
    w->Map(1);
    w->Bulk("k");
    w->Integer(1);
    w->Verbatim("x");
  }
  EXPECT_EQ(
      a, "+OK\r\n-ERR bad  thing\r\n:-7\r\n$2\r\nhi\r\n$-1\r\n*2\r\n$1\r\nk\r\n:1\r\n$1\r\nx\r\n");
  EXPECT_EQ(
      b,
      "+OK\r\n-ERR bad  thing\r\n:-7\r\n$2\r\nhi\r\n_\r\n%1\r\n$1\r\nk\r\n:1\r\n=5\r\ntxt:x\r\n");
}

TEST(RespKeySlotTest, MatchesRedisCluster) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("bar"), 5061);
  EXPECT_EQ(KeySlot("123456789"), 12739);  // CRC16/XModem check value 0x31C3 mod 16384
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{}foo"), KeySlot("{}foo"));
  EXPECT_NE(KeySlot("{}foo"), KeySlot("foo"));  // an empty tag does not count: the whole key hashes
}

namespace glob_table {
// Generated from redis-server 7.0.15: KEYS k:<pattern> over k:<each key>.
const std::vector<std::string> kGlobKeys = {
    "pab", "pa", "p]b", "p-b", "pb",    "p^b", "a*b", "axb", "hello", "hallo", "h\\llo", "ab", "a",
    "[",   "p[", "abc", "aXc", "\xffz", "Az",  "zz",  "a-b", "ac",    "a]",    "a\\",    "ba"};
const std::vector<std::pair<std::string, std::vector<std::string>>> kGlobMatches = {
    {"p[a-]b", {"pa", "pb"}},
    {"p[a-]", {"pa"}},
    {"p[a-", {"pa"}},
    {"p[", {}},
    {"[", {}},
    {"a\\*b", {"a*b"}},
    {"h[^e]llo", {"h\\llo", "hallo"}},
    {"h[\\]]llo", {}},
    {"*", {"Az",  "[",   "a",   "a*b", "a-b",    "aXc",   "a\\",   "a]",  "ab",
           "abc", "ac",  "axb", "ba",  "h\\llo", "hallo", "hello", "p-b", "p[",
           "p]b", "p^b", "pa",  "pab", "pb",     "zz",    "\xffz"}},
    {"a*", {"a", "a*b", "a-b", "aXc", "a\\", "a]", "ab", "abc", "ac", "axb"}},
    {"*b", {"a*b", "a-b", "ab", "axb", "p-b", "p]b", "p^b", "pab", "pb"}},
    {"a?b", {"a*b", "a-b", "axb"}},
    {"a[b-]", {"a]", "ab"}},
    {"[z-a]z", {"zz"}},
    {"[a-\xff]z", {"Az", "\xffz"}},
    {"a[]]", {}},
    {"a[\\", {"a\\"}},
    {"a\\", {"a\\"}},
    {"[^a]*",
     {"Az", "[", "ba", "h\\llo", "hallo", "hello", "p-b", "p[", "p]b", "p^b", "pa", "pab", "pb",
      "zz", "\xffz"}},
    {"**b", {"a*b", "a-b", "ab", "axb", "p-b", "p]b", "p^b", "pab", "pb"}},
    {"a*c*", {"aXc", "abc", "ac"}},
    {"[a-c-e]*", {"a", "a*b", "a-b", "aXc", "a\\", "a]", "ab", "abc", "ac", "axb", "ba"}},
    {"p[^a-]b", {"p["}},
    {"H?LLO", {}},
    {"*[A-C]*", {"Az"}},
};
}  // namespace glob_table

// Every pattern selects exactly the keys redis-server 7.0.15 selects, quirks included
// (KEYS p[a-]b matches "pa" and "pb" but not "pab").
TEST(RespGlobTest, MatchesExactlyWhatRedisMatches) {
  for (const auto& [pattern, expected] : glob_table::kGlobMatches) {
    std::vector<std::string> got;
    for (const std::string& key : glob_table::kGlobKeys) {
      if (GlobMatch(pattern, key)) got.push_back(key);
    }
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected) << "pattern " << pattern;
  }
}

TEST(RespGlobTest, RedisPatterns) {
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("device:*:latest", "device:12:latest"));
  EXPECT_FALSE(GlobMatch("device:*:latest", "device:12:old"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("a\\*b", "a*b"));
  EXPECT_FALSE(GlobMatch("a\\*b", "axb"));
  EXPECT_TRUE(GlobMatch("APPEND*", "appendonly", true));
  EXPECT_FALSE(GlobMatch("a*b*c", "abx"));
}

TEST(RespCommandTableTest, RowsAreConsistent) {
  std::string_view previous;
  for (const CommandSpec& c : CommandTable()) {
    EXPECT_LT(previous, c.name) << "sorted, unique";
    previous = c.name;
    EXPECT_NE(c.arity, 0) << c.name;
    EXPECT_FALSE(c.categories.empty()) << c.name;
    EXPECT_FALSE((c.flags & kWrite) && (c.flags & kReadonly)) << c.name;
    if (c.first_key > 0) {
      EXPECT_GT(c.step, 0) << c.name;
      // WATCH names keys without reading or writing them, and the shard channel commands
      // name channels (Redis's not_key key specs), as in Redis's own table.
      const bool names_only = c.name == "watch" || c.name == "ssubscribe" ||
                              c.name == "sunsubscribe" || c.name == "spublish";
      if (!names_only) {
        EXPECT_TRUE((c.flags & kWrite) || (c.flags & kReadonly)) << c.name << " touches keys";
      }
    }
    for (const CommandSpec& sub : c.subcommands) {
      EXPECT_EQ(sub.name.substr(0, c.name.size() + 1), std::string(c.name) + "|") << sub.name;
    }
  }
  EXPECT_EQ(FindCommand("GeT"), FindCommand("get"));
  EXPECT_EQ(FindCommand("nope"), nullptr);
  EXPECT_EQ(WrongArity("GET"), "ERR wrong number of arguments for 'get' command");
}

}  // namespace
}  // namespace devstate::resp
