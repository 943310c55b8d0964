// JSONPath (jsonpath.h) and JSON documents (json_document.h): what a path means, what it
// selects, how edits reach what it selected, and the limits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/json_document.h"
#include "service/jsonpath.h"

namespace devstate {
namespace {

using json::Json;
using Kind = jsonpath::Selector::Kind;

jsonpath::Path MustParse(std::string_view text) {
  jsonpath::Path p;
  Status s = jsonpath::Parse(text, &p);
  EXPECT_TRUE(s.ok()) << text << ": " << s.ToString();
  return p;
}

std::string ParseError(std::string_view text) {
  jsonpath::Path p;
  Status s = jsonpath::Parse(text, &p);
  EXPECT_FALSE(s.ok()) << text << " parsed";
  return s.message();
}

Json Doc(std::string_view text) {
  Json doc;
  Status s = json::Parse(text, &doc);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return doc;
}

// What `path` selects in `doc`, as one compact JSON array.
std::string Select(const Json& doc, std::string_view path) {
  json::Selection sel;
  Status s = sel.Select(doc, MustParse(path));
  if (!s.ok()) return "error: " + s.message();
  Json all = Json::array();
  for (size_t i = 0; i < sel.size(); ++i) all.push_back(*sel.node(i));
  return json::Compact(all);
}

TEST(JsonPathTest, ParsesJsonPathAndLegacyForms) {
  jsonpath::Path p = MustParse("$.a.b");
  EXPECT_FALSE(p.legacy);
  ASSERT_EQ(p.segments.size(), 2u);
  EXPECT_EQ(p.segments[1].selectors[0].name, "b");

  // Legacy paths name the same places without the `$`.
  EXPECT_TRUE(MustParse(".a.b").legacy);
  EXPECT_EQ(MustParse(".a.b").segments, p.segments);
  EXPECT_EQ(MustParse("a.b").segments, p.segments);
  EXPECT_TRUE(MustParse(".").segments.empty());
  EXPECT_TRUE(MustParse("$").segments.empty());
  EXPECT_EQ(MustParse("[0]").segments, MustParse("$[0]").segments);

  p = MustParse("$..x");
  ASSERT_EQ(p.segments.size(), 1u);
  EXPECT_TRUE(p.segments[0].descendant);

  p = MustParse("$['a b', \"c\\\"d\" , 3,-1,*]");
  ASSERT_EQ(p.segments.size(), 1u);
  const auto& sel = p.segments[0].selectors;
  ASSERT_EQ(sel.size(), 5u);
  EXPECT_EQ(sel[0].name, "a b");
  EXPECT_EQ(sel[1].name, "c\"d");
  EXPECT_EQ(sel[2].kind, Kind::kIndex);
  EXPECT_EQ(sel[3].index, -1);
  EXPECT_EQ(sel[4].kind, Kind::kWildcard);

  p = MustParse("$[1:3][::-1][:2:][5:]");
  EXPECT_EQ(p.segments[0].selectors[0].start, 1);
  EXPECT_EQ(p.segments[0].selectors[0].end, 3);
  EXPECT_EQ(p.segments[1].selectors[0].step, -1);
  EXPECT_FALSE(p.segments[1].selectors[0].start.has_value());
  EXPECT_EQ(p.segments[2].selectors[0].end, 2);
  EXPECT_EQ(p.segments[3].selectors[0].start, 5);

  EXPECT_EQ(MustParse("$['\\u00e9\\ud83d\\ude00']").segments[0].selectors[0].name,
            "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonPathTest, RefusesMalformedPathsWithWhereAndWhy) {
  EXPECT_NE(ParseError("").find("empty"), std::string::npos);
  EXPECT_NE(ParseError("$.").find("member name is missing"), std::string::npos);
  EXPECT_NE(ParseError("$a").find("offset 1"), std::string::npos);
  EXPECT_NE(ParseError("$[").find("ends inside"), std::string::npos);
  EXPECT_NE(ParseError("$[0").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(ParseError("$['a").find("not closed"), std::string::npos);
  EXPECT_NE(ParseError("$['\\q']").find("unknown escape"), std::string::npos);
  EXPECT_NE(ParseError("$['\\ud800']").find("surrogate"), std::string::npos);
  EXPECT_NE(ParseError("$[99999999999999999999]").find("out of range"), std::string::npos);
  EXPECT_NE(ParseError("$.a b").find("member name"), std::string::npos);
  EXPECT_NE(ParseError("$[]").find("expected a name"), std::string::npos);
  // Member names are object keys, which JSON holds as UTF-8 (found by the fuzzer: JSON.SET
  // would have created a key the writer then had to replace).
  EXPECT_NE(ParseError("$.\xff").find("not UTF-8"), std::string::npos);
  EXPECT_NE(ParseError("$['\xc3']").find("not UTF-8"), std::string::npos);
  EXPECT_NE(ParseError("..").find("member name is missing"), std::string::npos);
  std::string deep = "$";
  for (size_t i = 0; i < jsonpath::kMaxSegments; ++i) deep += ".a";
  MustParse(deep);
  EXPECT_NE(ParseError(deep + ".a").find("more than 256 segments"), std::string::npos);
  // A legacy path's first name (its dot implied) counts too (found by the fuzzer).
  std::string legacy = "a";
  for (size_t i = 1; i < jsonpath::kMaxSegments; ++i) legacy += ".a";
  EXPECT_EQ(MustParse(legacy).segments.size(), jsonpath::kMaxSegments);
  EXPECT_NE(ParseError(legacy + ".a").find("more than 256 segments"), std::string::npos);
}

TEST(JsonPathTest, SelectsWhatTheIssueNames) {
  const Json doc = Doc(R"({"a":{"b":7,"x":1},"arr":[10,20,{"x":2}],"x":0})");
  EXPECT_EQ(Select(doc, "$.a.b"), "[7]");
  EXPECT_EQ(Select(doc, ".a.b"), "[7]");
  EXPECT_EQ(Select(doc, "$.arr[0]"), "[10]");
  EXPECT_EQ(Select(doc, "$.arr[-1].x"), "[2]");
  EXPECT_EQ(Select(doc, "$..x"), "[0,1,2]") << "the node first, then below it in document order";
  EXPECT_EQ(Select(doc, "$.nope"), "[]");
  EXPECT_EQ(Select(doc, "$.arr[3]"), "[]");
  EXPECT_EQ(Select(doc, "$.a.b.c"), "[]");
  EXPECT_EQ(Select(doc, "$"), R"([{"a":{"b":7,"x":1},"arr":[10,20,{"x":2}],"x":0}])");
  EXPECT_EQ(Select(doc, "$.a.*"), "[7,1]");
  EXPECT_EQ(Select(doc, "$.arr[*]"), R"([10,20,{"x":2}])");
  EXPECT_EQ(Select(doc, "$.arr[0,0]"), "[10,10]") << "a union keeps duplicates";
  EXPECT_EQ(Select(doc, "$['a','x']"), R"([{"b":7,"x":1},0])");
  EXPECT_EQ(Select(doc, "$..[0]"), "[10]");
  EXPECT_EQ(Select(doc, "$.arr..*"), R"([10,20,{"x":2},2])");
}

TEST(JsonPathTest, SlicesFollowRfc9535) {
  const Json doc = Doc(R"(["a","b","c","d","e","f","g"])");
  EXPECT_EQ(Select(doc, "$[1:3]"), R"(["b","c"])");
  EXPECT_EQ(Select(doc, "$[5:]"), R"(["f","g"])");
  EXPECT_EQ(Select(doc, "$[1:5:2]"), R"(["b","d"])");
  EXPECT_EQ(Select(doc, "$[5:1:-2]"), R"(["f","d"])");
  EXPECT_EQ(Select(doc, "$[::-1]"), R"(["g","f","e","d","c","b","a"])");
  EXPECT_EQ(Select(doc, "$[-2:]"), R"(["f","g"])");
  EXPECT_EQ(Select(doc, "$[::0]"), "[]");
  EXPECT_EQ(Select(doc, "$[-9223372036854775808:9223372036854775807:9223372036854775807]"),
            R"(["a"])")
      << "extreme bounds and steps neither overflow nor loop";
  EXPECT_EQ(Select(doc, "$[9223372036854775807::-9223372036854775808]"), R"(["g"])");
}

TEST(JsonPathTest, ParsesFiltersAsATree) {
  jsonpath::Path p = MustParse("$.a[?(@.b > 1 && !@.c) || $.d == 'x', 0]");
  ASSERT_EQ(p.segments.size(), 2u);
  const auto& sel = p.segments[1].selectors;
  ASSERT_EQ(sel.size(), 2u);
  ASSERT_EQ(sel[0].kind, Kind::kFilter);
  EXPECT_EQ(sel[1].kind, Kind::kIndex);
  using Node = jsonpath::FilterNode;
  const Node& top = sel[0].filter[static_cast<size_t>(sel[0].filter_root)];
  EXPECT_EQ(top.kind, Node::Kind::kOr);
  const Node& left = sel[0].filter[static_cast<size_t>(top.left)];
  EXPECT_EQ(left.kind, Node::Kind::kAnd);
  const Node& compare = sel[0].filter[static_cast<size_t>(left.left)];
  EXPECT_EQ(compare.kind, Node::Kind::kCompare);
  EXPECT_EQ(compare.compare, Node::Compare::kGt);
  const Node& one = sel[0].filter[static_cast<size_t>(compare.right)];
  EXPECT_TRUE(one.integer);
  EXPECT_EQ(one.int_value, 1);
  EXPECT_EQ(sel[0].filter[static_cast<size_t>(left.right)].kind, Node::Kind::kNot);
  const Node& eq = sel[0].filter[static_cast<size_t>(top.right)];
  EXPECT_FALSE(sel[0].filter[static_cast<size_t>(eq.left)].relative);
  EXPECT_EQ(sel[0].filter[static_cast<size_t>(eq.right)].string, "x");
  // RFC 9535's form without parentheses is the same filter.
  EXPECT_EQ(MustParse("$[?@.b>1]"), MustParse("$[?(@.b > 1)]"));
}

TEST(JsonPathTest, RefusesMalformedFiltersWithWhy) {
  EXPECT_NE(ParseError("$[?]").find("expected a literal or a query"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.a ==").find("the filter ends early"), std::string::npos);
  EXPECT_NE(ParseError("$[?(@.a]").find("expected ')'"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.a > ]").find("expected a literal"), std::string::npos);
  EXPECT_NE(ParseError("$[?1]").find("literal alone"), std::string::npos);
  EXPECT_NE(ParseError("$[?@..a == 1]").find("singular"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.* == 1]").find("singular"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.a == 01]").find("leading zero"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.a == 1e999]").find("out of range"), std::string::npos);
  EXPECT_NE(ParseError("$[?lengths(@) > 1]").find("unknown function 'lengths'"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.a =~ ]").find("expected a literal"), std::string::npos);
  EXPECT_NE(ParseError("$[?@.1a]").find("starts with a digit"), std::string::npos);
  EXPECT_NE(ParseError("$[?!1]").find("expected a query"), std::string::npos);
  // Nesting and length are bounded, so neither the parser's nor the evaluator's recursion
  // can be driven deep by a hostile path.
  std::string nested = "$";
  for (size_t i = 0; i <= jsonpath::kMaxFilterDepth; ++i) nested += "[?@";
  EXPECT_NE(ParseError(nested).find("deeper than 32"), std::string::npos);
  EXPECT_NE(ParseError("$[?" + std::string(40, '(') + "@]").find("deeper than 32"),
            std::string::npos);
  std::string chain = "$[?@.a";
  for (size_t i = 0; i < jsonpath::kMaxSegments; ++i) chain += " || @.a";
  EXPECT_NE(ParseError(chain + "]").find("more than 256 segments"), std::string::npos);
}

// RFC 9535 §2.3.5.3's examples.
TEST(JsonPathTest, FiltersSelectAsRfc9535Says) {
  const Json doc =
      Doc(R"({"a": [3, 5, 1, 2, 4, 6, {"b": "j"}, {"b": "k"}, {"b": {}}, {"b": "kilo"}],
                            "o": {"p": 1, "q": 2, "r": 3, "s": 5, "t": {"u": 6}}, "e": "f"})");
  EXPECT_EQ(Select(doc, "$.a[?@.b == 'kilo']"), R"([{"b":"kilo"}])");
  EXPECT_EQ(Select(doc, "$.a[?(@.b == 'kilo')]"), R"([{"b":"kilo"}])");
  EXPECT_EQ(Select(doc, "$.a[?@>3.5]"), "[5,4,6]");
  EXPECT_EQ(Select(doc, "$.a[?@.b]"), R"([{"b":"j"},{"b":"k"},{"b":{}},{"b":"kilo"}])");
  EXPECT_EQ(Select(doc, "$[?@.*]"), Json::array({doc["a"], doc["o"]}).dump());
  EXPECT_EQ(Select(doc, "$[?@[?@.b]]"), Json::array({doc["a"]}).dump());
  EXPECT_EQ(Select(doc, "$.o[?@<3, ?@<3]"), "[1,2,1,2]");
  EXPECT_EQ(Select(doc, R"($.a[?@<2 || @.b == "k"])"), R"([1,{"b":"k"}])");
  EXPECT_EQ(Select(doc, "$.o[?@>1 && @<4]"), "[2,3]");
  EXPECT_EQ(Select(doc, "$.o[?@.u || @.x]"), R"([{"u":6}])");
  EXPECT_EQ(Select(doc, "$.a[?@.b == $.x]"), "[3,5,1,2,4,6]");
  EXPECT_EQ(Select(doc, "$.a[?@ == @]"), json::Compact(doc["a"]));
  EXPECT_EQ(Select(doc, "$..[?@.u == 6]"), R"([{"u":6}])");
  EXPECT_EQ(Select(doc, "$.a[?!@.b]"), "[3,5,1,2,4,6]");

  // The comparison table: each holds (both children of the root are selected) or not.
  const Json cmp = Doc(R"({"obj": {"x": "y"}, "arr": [2, 3]})");
  const std::vector<std::pair<std::string, bool>> table = {{"$.absent1 == $.absent2", true},
                                                           {"$.absent1 <= $.absent2", true},
                                                           {"$.absent == 'g'", false},
                                                           {"$.absent1 != $.absent2", false},
                                                           {"$.absent != 'g'", true},
                                                           {"1 <= 2", true},
                                                           {"1 > 2", false},
                                                           {"13 == '13'", false},
                                                           {"'a' <= 'b'", true},
                                                           {"'a' > 'b'", false},
                                                           {"$.obj == $.arr", false},
                                                           {"$.obj != $.arr", true},
                                                           {"$.obj == $.obj", true},
                                                           {"$.obj != $.obj", false},
                                                           {"$.arr == $.arr", true},
                                                           {"$.arr != $.arr", false},
                                                           {"$.obj == 17", false},
                                                           {"$.obj != 17", true},
                                                           {"$.obj <= $.arr", false},
                                                           {"$.obj < $.arr", false},
                                                           {"$.obj <= $.obj", true},
                                                           {"$.arr <= $.arr", true},
                                                           {"1 <= $.arr", false},
                                                           {"1 >= $.arr", false},
                                                           {"1 > $.arr", false},
                                                           {"1 < $.arr", false},
                                                           {"true <= true", true},
                                                           {"true > true", false},
                                                           {"1 == 1.0", true},
                                                           {"$.arr[0] < 2.5", true}};
  for (const auto& [expr, holds] : table) {
    EXPECT_EQ(Select(cmp, "$[?" + expr + "]"),
              holds ? json::Compact(Json::array({cmp["obj"], cmp["arr"]})) : "[]")
        << expr;
  }
}

// RFC 9535 §2.4.9's examples of well-typed and not well-typed function expressions, and
// RedisJSON's =~.
TEST(JsonPathTest, FunctionsAreTypeCheckedAsRfc9535Says) {
  for (const char* good :
       {"$[?length(@) < 3]", "$[?count(@.*) == 1]", "$[?match(@.timezone, 'Europe/.*')]",
        "$[?!search(@.a, 'x')]", "$[?value(@..color) == \"red\"]", "$[?length(value(@..c)) == 1]",
        "$[?count(@..*) > length(@.a)]", "$[?@.a =~ '(?i)^x']", "$[?@.a =~ $.pattern && @.b]",
        "$[?(match(@.a, 'b'))]"}) {
    MustParse(good);
  }
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"$[?length(@.*) < 3]", "singular"},             // a nodelist where a value goes
      {"$[?count(1) == 1]", "count() takes a query"},  // a value where a nodelist goes
      {"$[?count(foo(@.*)) == 1]", "takes a query"},
      {"$[?match(@.timezone, 'Europe/.*') == true]", "match() is a test, not a value"},
      {"$[?value(@..color)]", "value() is a value, not a test"},
      {"$[?length(@)]", "length() is a value, not a test"},
      {"$[?length (@) == 1]", "expected '(' right after length"},
      {"$[?match(@.a)]", "match() takes 2 arguments"},
      {"$[?count(@.a, @.b) == 1]", "count() takes 1 argument"},
      {"$[?bar(@.a)]", "unknown function 'bar'"},
      {"$[?@.a =~ match(@.a, 'b')]", "match() is a test"},
      {"$[?!length(@) == 1]", "length() is a value"},
  };
  for (const auto& [path, why] : bad) {
    EXPECT_NE(ParseError(path).find(why), std::string::npos) << path << ": " << ParseError(path);
  }
  std::string nested = "$[?";
  for (size_t i = 0; i <= jsonpath::kMaxFilterDepth; ++i) nested += "length(";
  EXPECT_NE(ParseError(nested).find("deeper than 32"), std::string::npos);
}

TEST(JsonPathTest, FunctionsSelectAsRfc9535Says) {
  const Json doc =
      Doc(R"({"a": [3, 5, 1, 2, 4, 6, {"b": "j"}, {"b": "k"}, {"b": {}}, {"b": "kilo"}],
                           "o": {"p": 1, "q": 2, "r": 3, "s": 5, "t": {"u": 6}}, "e": "f",
                           "s": ["", "ab", "é€😀", [1, 2, 3], {"x": 1}, 7, null],
                           "tz": [{"z": "Europe/Paris"}, {"z": "America/New_York"}, {"z": "Europe\nX"}],
                           "lines": ["a\nb", "a\rb", "axb", "a^b", "a$b"]})");
  // RFC 9535 §2.3.5.3.
  EXPECT_EQ(Select(doc, "$.a[?match(@.b, \"[jk]\")]"), R"([{"b":"j"},{"b":"k"}])");
  EXPECT_EQ(Select(doc, "$.a[?search(@.b, \"[jk]\")]"), R"([{"b":"j"},{"b":"k"},{"b":"kilo"}])");
  EXPECT_EQ(Select(doc, "$.o[?match(@, \"[a-z]\")]"), "[]");
  // length(): characters (not bytes), elements, members; nothing for the rest.
  EXPECT_EQ(Select(doc, "$.s[?length(@) == 3]"), R"(["é€😀",[1,2,3]])");
  EXPECT_EQ(Select(doc, "$.s[?length(@) == 1]"), R"([{"x":1}])");
  EXPECT_EQ(Select(doc, "$.s[?length(@) == 0]"), R"([""])");
  EXPECT_EQ(Select(doc, "$.s[?length(@) >= 0]"), R"(["","ab","é€😀",[1,2,3],{"x":1}])");
  // count() and value().
  EXPECT_EQ(Select(doc, "$[?count(@.*) == 7]"), Json::array({doc["s"]}).dump());
  EXPECT_EQ(Select(doc, "$.a[?count(@.b) == 1].b"), R"(["j","k",{},"kilo"])");
  EXPECT_EQ(Select(doc, "$.o[?value(@..u) == 6]"), R"([{"u":6}])");
  EXPECT_EQ(Select(doc, "$[?value(@.*) == 'x']"), "[]") << "more than one node: nothing";
  // match() is anchored, search() is not; `.` is no line break; ^ and $ are characters.
  EXPECT_EQ(Select(doc, "$.tz[?match(@.z, 'Europe/.*')].z"), R"(["Europe/Paris"])");
  EXPECT_EQ(Select(doc, "$.tz[?search(@.z, 'Paris|York')].z"),
            R"(["Europe/Paris","America/New_York"])");
  EXPECT_EQ(Select(doc, "$.lines[?match(@, 'a.b')]"), R"(["axb","a^b","a$b"])");
  EXPECT_EQ(Select(doc, "$.lines[?search(@, '^b')]"), R"(["a^b"])");
  EXPECT_EQ(Select(doc, "$.lines[?search(@, 'a[$]b')]"), R"(["a$b"])");
  EXPECT_EQ(Select(doc, "$.s[?match(@, '\\\\p{L}+')]"), R"(["ab"])");
  // Not an I-Regexp (\d, an open class), or not strings: false, never an error.
  EXPECT_EQ(Select(doc, "$.lines[?match(@, 'a\\\\db')]"), "[]");
  EXPECT_EQ(Select(doc, "$.lines[?match(@, '[ab')]"), "[]");
  EXPECT_EQ(Select(doc, "$.s[?match(@, 7)]"), "[]");
  // RedisJSON's =~: Rust's syntax (\d, (?i), anchors), anywhere; the pattern may be a query.
  const Json devices =
      Doc(R"({"pattern": "^th", "d": [{"n": "Thermo-1"}, {"n": "hum-2"}, {"n": "thermo"}]})");
  EXPECT_EQ(Select(devices, "$.d[?@.n =~ '(?i)^th'].n"), R"(["Thermo-1","thermo"])");
  EXPECT_EQ(Select(devices, "$.d[?@.n =~ '\\\\d$'].n"), R"(["Thermo-1","hum-2"])");
  EXPECT_EQ(Select(devices, "$.d[?@.n =~ $.pattern].n"), R"(["thermo"])");
  EXPECT_EQ(Select(devices, "$.d[?@.n =~ '(unclosed'].n"), "[]");
  EXPECT_EQ(Select(devices, "$.d[?@.x =~ 'a'].n"), "[]");
}

TEST(JsonPathTest, AFilterThatReachesTooManyNodesIsAnError) {
  // Each element's `..` walks the whole array: quadratic, stopped by kMaxMatches.
  Json doc = Json::array();
  for (int i = 0; i < 2000; ++i) doc.push_back(Json::array({i}));
  const Json big = Json::array({doc, doc});
  EXPECT_NE(Select(big, "$..[?$..[?@ == -1]]").find("more than 1000000 nodes"), std::string::npos);
}

TEST(JsonDocumentTest, ParseLimitsNesting) {
  Json doc;
  std::string ok(json::kMaxDepth, '[');
  ok += std::string(json::kMaxDepth, ']');
  EXPECT_TRUE(json::Parse(ok, &doc).ok());
  EXPECT_EQ(json::Depth(doc), json::kMaxDepth);
  // Far deeper than the limit: refused, neither built nor recursed into.
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  Status s = json::Parse(deep, &doc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("deeper than 128"), std::string::npos);
  EXPECT_FALSE(json::Parse("{\"a\":", &doc).ok());
  EXPECT_FALSE(json::Parse("NaN", &doc).ok());
  // A number past double's range is an error, not an exception (found by the fuzzer).
  EXPECT_NE(json::Parse("[1e888]", &doc).message().find("invalid JSON"), std::string::npos);
  EXPECT_FALSE(json::Parse("[1] [2]", &doc).ok());
}

TEST(JsonDocumentTest, WritesCompactAndFormatted) {
  const Json doc = Doc(R"({"b":[1,{}],"a":"\u00e9\n","e":[]})");
  EXPECT_EQ(json::Compact(doc), "{\"b\":[1,{}],\"a\":\"\xc3\xa9\\n\",\"e\":[]}")
      << "members keep their insertion order";
  std::string out;
  json::Write(doc, {"  ", "\n", " "}, &out);
  EXPECT_EQ(out, "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": \"\xc3\xa9\\n\",\n  \"e\": []\n}");
  EXPECT_EQ(json::TypeName(Doc("1")), "integer");
  EXPECT_EQ(json::TypeName(Doc("18446744073709551615")), "integer");
  EXPECT_EQ(json::TypeName(Doc("1.5")), "number");
  EXPECT_EQ(json::TypeName(Doc("null")), "null");
}

// Erases everything `path` selects, as JSON.DEL does.
std::string EraseAll(std::string_view text, std::string_view path, size_t* erased = nullptr) {
  Json doc = Doc(text);
  json::Selection sel;
  EXPECT_TRUE(sel.Select(doc, MustParse(path)).ok());
  size_t n = 0;
  for (size_t i : sel.EditOrder()) n += sel.Erase(doc, i) ? 1 : 0;
  if (erased) *erased = n;
  return json::Compact(doc);
}

TEST(JsonDocumentTest, EditsReachEverySelectedPlaceWhateverTheOrder) {
  size_t n = 0;
  // Later siblings go first, so an earlier erase never shifts one still to come.
  EXPECT_EQ(EraseAll("[0,1,2,3,4,5]", "$[0,2,4]", &n), "[1,3,5]");
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(EraseAll("[0,1,2,3]", "$[1,1]", &n), "[0,2,3]") << "a duplicate is erased once";
  EXPECT_EQ(n, 1u);
  // Members, and places inside places: deeper ones go before their ancestors.
  EXPECT_EQ(EraseAll(R"({"x":1,"a":{"x":2,"b":{"x":3}},"c":[{"x":4}]})", "$..x", &n),
            R"({"a":{"b":{}},"c":[{}]})");
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(EraseAll(R"({"a":{"a":{"a":1}}})", "$..a", &n), "{}");
  EXPECT_EQ(n, 3u);

  // JSON.SET's places: existing members and members to create, each assigned once.
  Json doc = Doc(R"({"a":{"k":1},"b":{},"c":[1]})");
  json::Selection sel;
  ASSERT_TRUE(sel.SelectForSet(doc, MustParse("$.*.k")).ok());
  ASSERT_EQ(sel.size(), 2u) << "an array has no member to create";
  EXPECT_NE(sel.node(0), nullptr);
  EXPECT_EQ(sel.node(1), nullptr);
  for (size_t i : sel.EditOrder()) *sel.Resolve(doc, i) = "v";
  EXPECT_EQ(json::Compact(doc), R"({"a":{"k":"v"},"b":{"k":"v"},"c":[1]})");
  EXPECT_EQ(sel.depth(0), 2u);
}

TEST(JsonDocumentTest, ASelectionReachingTooManyNodesIsAnError) {
  // A path that multiplies what it reaches (`..` after `..`) stops at the limit with an
  // error instead of growing without bound.
  Json doc = Json::array();
  for (int i = 0; i < 2000; ++i) doc.push_back(Json::array({1, 2, 3}));
  json::Selection sel;
  EXPECT_TRUE(sel.Select(doc, MustParse("$..*")).ok());
  EXPECT_EQ(sel.size(), 8000u);
  Json wide = Json::array();
  for (size_t i = 0; i < json::kMaxMatches; ++i) wide.push_back(0);
  Status s = sel.Select(wide, MustParse("$..*"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than"), std::string::npos);
}

}  // namespace
}  // namespace devstate
