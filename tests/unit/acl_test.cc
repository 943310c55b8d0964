#include "api/acl.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace devstate::acl {
namespace {

const std::vector<std::string_view> kGet = {"read", "string", "fast"};
const std::vector<std::string_view> kSet = {"write", "string", "slow"};
const std::vector<std::string_view> kClientKill = {"admin", "slow", "dangerous"};
const std::vector<std::string_view> kClientId = {"slow", "connection"};

User Parse(std::string_view line) {
  User user;
  Status s = ParseUserLine(line, &user);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return user;
}

std::string WriteTemp(std::string_view name, std::string_view text) {
  const auto path =
      std::filesystem::temp_directory_path() / (std::string("acl_test_") + std::string(name));
  std::ofstream(path) << text;
  return path.string();
}

TEST(AclTest, Sha256OfAKnownString) {
  EXPECT_EQ(Sha256Hex("example-password"),
            "a4b7fbda9179055ba005b83fe1d9d558c85e5f6afc2ce4071439ecdab864b98e");
}

TEST(AclTest, PasswordsAreKeptHashed) {
  User u = Parse("user lambda-user on >example-password ~device:* &* +@all");
  EXPECT_TRUE(u.CheckPassword("example-password"));
  EXPECT_FALSE(u.CheckPassword("example-passwordx"));
  EXPECT_FALSE(u.CheckPassword(""));
  ASSERT_EQ(u.password_hashes.size(), 1u);
  EXPECT_EQ(u.Describe().find("example-password"), std::string::npos);
  // #<hash> is the same password, given as its hash; <pass and !hash remove.
  User h = Parse("user x on #" + Sha256Hex("secret"));
  EXPECT_TRUE(h.CheckPassword("secret"));
  ASSERT_TRUE(h.Apply("!" + Sha256Hex("secret")).ok());
  EXPECT_FALSE(h.CheckPassword("secret"));
  User two = Parse("user x on >a >b <a");
  EXPECT_FALSE(two.CheckPassword("a"));
  EXPECT_TRUE(two.CheckPassword("b"));
}

TEST(AclTest, OffNopassAndReset) {
  EXPECT_FALSE(Parse("user x off >p").CheckPassword("p"));
  EXPECT_TRUE(Parse("user x on nopass").CheckPassword("anything"));
  EXPECT_FALSE(Parse("user x on nopass resetpass").CheckPassword("anything"));
  User r = Parse("user x on >p ~* +@all reset");
  EXPECT_FALSE(r.enabled);
  EXPECT_FALSE(r.AllowsCommand("get", kGet));
  EXPECT_FALSE(r.AllowsKey("k", false));
}

TEST(AclTest, CommandRulesLastMatchWins) {
  User u = Parse("user x on nopass +@all -@admin");
  EXPECT_TRUE(u.AllowsCommand("get", kGet));
  EXPECT_FALSE(u.AllowsCommand("client|kill", kClientKill));
  EXPECT_TRUE(u.AllowsCommand("client|id", kClientId));

  User ro = Parse("user x on nopass +@read");
  EXPECT_TRUE(ro.AllowsCommand("get", kGet));
  EXPECT_FALSE(ro.AllowsCommand("set", kSet));

  User one = Parse("user x on nopass -@all +get");
  EXPECT_TRUE(one.AllowsCommand("get", kGet));
  EXPECT_FALSE(one.AllowsCommand("mget", kGet));

  User sub = Parse("user x on nopass +@all -client|kill");
  EXPECT_FALSE(sub.AllowsCommand("client|kill", kClientKill));
  EXPECT_TRUE(sub.AllowsCommand("client|id", kClientId));
  ASSERT_TRUE(sub.Apply("+client").ok());  // the whole container again
  EXPECT_TRUE(sub.AllowsCommand("client|kill", kClientKill));

  User none = Parse("user x on nopass");
  EXPECT_FALSE(none.AllowsCommand("get", kGet));
  EXPECT_TRUE(Parse("user x on nopass allcommands").AllowsCommand("set", kSet));
  EXPECT_FALSE(Parse("user x on nopass +@all nocommands").AllowsCommand("get", kGet));
  EXPECT_FALSE(Parse("user x on nopass +@all -flushall").AllowsCommand("flushall", kClientKill));
}

TEST(AclTest, AllowsEverythingOnlyForTheUnrestricted) {
  EXPECT_TRUE(Parse("user x on nopass ~* &* +@all").AllowsEverything());
  EXPECT_TRUE(Parse("user x on nopass allkeys allcommands").AllowsEverything());
  EXPECT_FALSE(Parse("user x on nopass ~device:* +@all").AllowsEverything());
  EXPECT_FALSE(Parse("user x on nopass ~* +@all -@admin").AllowsEverything());
  EXPECT_FALSE(Parse("user x on nopass %R~* +@all").AllowsEverything());
  EXPECT_FALSE(Parse("user x on nopass ~*").AllowsEverything());
}

TEST(AclTest, KeyPatterns) {
  User u = Parse("user x on nopass ~device:* +@all");
  EXPECT_TRUE(u.AllowsKey("device:1:latest", true));
  EXPECT_FALSE(u.AllowsKey("other", false));
  ASSERT_TRUE(u.Apply("resetkeys").ok());
  EXPECT_FALSE(u.AllowsKey("device:1:latest", false));
  ASSERT_TRUE(u.Apply("allkeys").ok());
  EXPECT_TRUE(u.AllowsKey("anything", true));

  User rw = Parse("user x on nopass %R~device:* %W~inbox:* +@all");
  EXPECT_TRUE(rw.AllowsKey("device:1", false));
  EXPECT_FALSE(rw.AllowsKey("device:1", true));
  EXPECT_TRUE(rw.AllowsKey("inbox:1", true));
  EXPECT_FALSE(rw.AllowsKey("inbox:1", false));
}

TEST(AclTest, SyntaxErrorsAreWordedAsRedis) {
  User user;
  Status s = ParseUserLine("user x on +@nosuchcategory", &user);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Unknown command or category name in ACL"), std::string::npos);
  s = ParseUserLine("user x on bogus", &user);
  EXPECT_NE(s.message().find("Error in ACL SETUSER modifier 'bogus': Syntax error"),
            std::string::npos);
  EXPECT_FALSE(ParseUserLine("user x #abc", &user).ok());  // not a sha256
  EXPECT_FALSE(ParseUserLine("notuser x on", &user).ok());
  EXPECT_FALSE(ParseUserLine("user", &user).ok());
}

TEST(AclTest, DefaultUserIsOpenUnlessTheFileSaysOtherwise) {
  Acl acl;
  EXPECT_FALSE(acl.auth_required());
  ASSERT_NE(acl.DefaultUser(), nullptr);
  EXPECT_TRUE(acl.DefaultUser()->AllowsCommand("set", kSet));

  const std::string file = WriteTemp("open", "user reader on >r ~* +@read\n");
  ASSERT_TRUE(acl.Load(file, "").ok());
  EXPECT_FALSE(acl.auth_required());  // default not declared: still on nopass

  const std::string closed =
      WriteTemp("closed", "# comment\n\nuser default off\nuser a on >pw ~* +@all\n");
  const uint64_t before = acl.generation();
  ASSERT_TRUE(acl.Load(closed, "").ok());
  EXPECT_GT(acl.generation(), before);
  EXPECT_TRUE(acl.auth_required());
  EXPECT_EQ(acl.DefaultUser(), nullptr);
  EXPECT_NE(acl.Authenticate("a", "pw"), nullptr);
  EXPECT_EQ(acl.Authenticate("a", "wrong"), nullptr);
  EXPECT_EQ(acl.Authenticate("nobody", "pw"), nullptr);
  EXPECT_EQ(acl.Authenticate("default", ""), nullptr);
}

TEST(AclTest, LoadErrorsNameFileAndLineAndChangeNothing) {
  Acl acl;
  const std::string good = WriteTemp("good", "user default off\nuser a on >pw ~* +@all\n");
  ASSERT_TRUE(acl.Load(good, "").ok());
  const std::string bad = WriteTemp("bad", "user b on >pw\nuser c on +@bogus\n");
  Status s = acl.Load(bad, "");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(bad + ":2:"), std::string::npos) << s.message();
  EXPECT_NE(acl.Authenticate("a", "pw"), nullptr);  // the old users stay
  EXPECT_FALSE(acl.Load(WriteTemp("dup", "user a on\nuser a off\n"), "").ok());
  EXPECT_FALSE(acl.Load("/nonexistent/acl", "").ok());
}

TEST(AclTest, BearerTokens) {
  Acl acl;
  const std::string users = WriteTemp(
      "tok_users", "user default off\nuser reader on >r ~* +@read\nuser off off ~* +@all\n");
  const std::string tokens = WriteTemp(
      "tokens", "reader 0123456789abcdef-token\noff #" + Sha256Hex("disabled-user-token") + "\n");
  ASSERT_TRUE(acl.Load(users, tokens).ok());
  auto user = acl.AuthenticateToken("0123456789abcdef-token");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->name, "reader");
  EXPECT_EQ(acl.AuthenticateToken("0123456789abcdef-tokenX"), nullptr);
  EXPECT_EQ(acl.AuthenticateToken("disabled-user-token"), nullptr);  // the user is off
  EXPECT_FALSE(acl.Load(users, WriteTemp("short", "reader short\n")).ok());
  EXPECT_FALSE(acl.Load(users, WriteTemp("nouser", "ghost 0123456789abcdef-token\n")).ok());
}

TEST(AclTest, ReloadReadsTheSameFiles) {
  Acl acl;
  EXPECT_FALSE(acl.Reload().ok());  // no file configured
  const std::string file = WriteTemp("reload", "user a on >one ~* +@all\n");
  ASSERT_TRUE(acl.Load(file, "").ok());
  WriteTemp("reload", "user a on >two ~* +@all\n");
  ASSERT_TRUE(acl.Reload().ok());
  EXPECT_EQ(acl.Authenticate("a", "one"), nullptr);
  EXPECT_NE(acl.Authenticate("a", "two"), nullptr);
}

TEST(AclTest, LogMergesRepeatsAndIsBounded) {
  Acl acl;
  LogEntry e{.reason = "auth", .context = "toplevel", .object = "AUTH", .username = "u"};
  acl.Log(e, 1000);
  acl.Log(e, 2000);
  auto entries = acl.LogEntries(10);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].count, 2u);
  EXPECT_EQ(entries[0].created_ms, 1000);
  EXPECT_EQ(entries[0].updated_ms, 2000);
  for (int i = 0; i < 300; ++i) {
    e.username = "u" + std::to_string(i);
    acl.Log(e, 3000);
  }
  EXPECT_EQ(acl.LogEntries(1000).size(), 128u);
  EXPECT_EQ(acl.LogEntries(1)[0].username, "u299");  // newest first
  acl.ResetLog();
  EXPECT_TRUE(acl.LogEntries(10).empty());
}

}  // namespace
}  // namespace devstate::acl

namespace devstate::acl {
namespace {

TEST(AclTest, TheShippedExampleLoads) {
  Acl acl;
  const Status s = acl.Load(std::string(DEVSTATE_SOURCE_DIR) + "/config/users.acl", "");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(acl.auth_required());
  EXPECT_NE(acl.Authenticate("lambda-user", "example-password"), nullptr);
  EXPECT_NE(acl.Authenticate("dashboard", "dashboard-password"), nullptr);
  EXPECT_NE(acl.Authenticate("ops", "ops-password"), nullptr);
}

}  // namespace
}  // namespace devstate::acl
