#include "service/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

Status Parse(std::vector<const char*> args, Config* config, CommandLine* cli) {
  args.insert(args.begin(), "devstate");
  return ParseCommandLine(static_cast<int>(args.size()), args.data(), config, cli);
}

TEST(ConfigTest, DefaultsMatchTheDesign) {
  Config c;
  EXPECT_EQ(c.store_dir, "./data");
}

TEST(ConfigTest, FileThenCommandLineOverrides) {
  testing::TempDir dir;
  const std::string file = dir.Sub("c.toml");
  std::ofstream(file) << "[store]\ndir = \"/var/lib/devstate\"\nmax_group_mutations = 100\n";
  Config c;
  CommandLine cli;
  ASSERT_TRUE(Parse({"--config", file.c_str(), "--store.max_group_mutations=7"}, &c, &cli).ok());
  EXPECT_EQ(cli.action, CommandLine::Action::kRun);
  EXPECT_EQ(c.store_dir, "/var/lib/devstate");
  EXPECT_EQ(c.store_max_group_mutations, 7);
}

TEST(ConfigTest, RejectsUnknownKeysBadTypesAndBounds) {
  Config c;
  EXPECT_NE(
      ApplyToml("[store]\nbogus = 1\n", "f.toml", &c).message().find("unknown key 'store.bogus'"),
      std::string::npos);
  EXPECT_NE(ApplyToml("[store]\ndir = 5\n", "f.toml", &c).message().find("must be a string"),
            std::string::npos);
  EXPECT_NE(ApplyToml("[store]\nmax_group_mutations = 0\n", "f.toml", &c).message().find("between"),
            std::string::npos);
  EXPECT_NE(ApplyToml("[log]\nlevel = \"loud\"\n", "f.toml", &c).message().find("one of"),
            std::string::npos);
  EXPECT_NE(ApplyToml("[store\n", "f.toml", &c).message().find("f.toml:1"), std::string::npos);
  EXPECT_NE(ApplyToml("dir = 1\n", "f.toml", &c).message().find("[section]"), std::string::npos);
  // The slow log's memory has a bound: 65536 entries of ~5 KB at most.
  EXPECT_NE(ApplyToml("[resp]\nslowlog_max_len = 65537\n", "f.toml", &c)
                .message()
                .find("between 0 and 65536"),
            std::string::npos);
  EXPECT_TRUE(ApplyToml("[resp]\nslowlog_log_slower_than_us = -1\n", "f.toml", &c).ok());
  EXPECT_EQ(c.resp_slowlog_log_slower_than_us, -1);
  CommandLine cli;
  EXPECT_FALSE(Parse({"--store.max_group_mutations=ten"}, &c, &cli).ok());
  EXPECT_FALSE(Parse({"--nope=1"}, &c, &cli).ok());
  EXPECT_FALSE(Parse({"--config", "/nonexistent/devstate.toml"}, &c, &cli).ok());
}

TEST(ConfigTest, HelpListsEveryKeyWithItsDefault) {
  Config c;
  CommandLine cli;
  ASSERT_TRUE(Parse({"--help"}, &c, &cli).ok());
  ASSERT_EQ(cli.action, CommandLine::Action::kHelp);
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(cli.help_text.find("--" + std::string(key.name)), std::string::npos) << key.name;
    EXPECT_NE(cli.help_text.find(std::string(key.doc)), std::string::npos) << key.name;
  }
  EXPECT_NE(cli.help_text.find("./data"), std::string::npos);
}

TEST(ConfigTest, ReferenceDocIsGeneratedFromTheTable) {
  const std::string ref = ConfigReference();
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(ref.find("`" + std::string(key.name) + "`"), std::string::npos);
  }
}

}  // namespace
}  // namespace devstate

namespace devstate {
namespace {

TEST(ConfigTest, TheShippedExamplesParse) {
  for (const char* name : {"devstate.toml", "devstate-production.toml", "shard/primary.toml",
                           "shard/replica-1.toml", "shard/replica-2.toml"}) {
    const std::string path = std::string(DEVSTATE_SOURCE_DIR) + "/config/" + name;
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::stringstream text;
    text << in.rdbuf();
    Config config;
    const Status s = ApplyToml(text.str(), path, &config);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
}

}  // namespace
}  // namespace devstate
