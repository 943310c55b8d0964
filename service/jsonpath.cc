#include "service/jsonpath.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace devstate::jsonpath {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Status Run(Path* out) {
    out->segments.clear();
    out->legacy = text_.empty() || text_[0] != '$';
    if (text_.empty()) return Fail("the path is empty");
    if (!out->legacy) {
      pos_ = 1;
    } else if (text_ == ".") {
      return Status::OK();
    } else if (text_[0] != '.' && text_[0] != '[') {
      // `a.b`: the first name's dot is implied.
      ++segments_;
      Segment s;
      if (Status st = DotName(&s); !st.ok()) return st;
      out->segments.push_back(std::move(s));
    }
    while (pos_ < text_.size()) {
      Segment s;
      if (Status st = NextSegment(&s); !st.ok()) return st;
      out->segments.push_back(std::move(s));
    }
    return Status::OK();
  }

 private:
  Status Fail(std::string_view what) const {
    return Status::InvalidArgument(fmt::format("invalid JSONPath: {} at offset {}", what, pos_));
  }

  bool At(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  Status NextSegment(Segment* s) {
    if (++segments_ > kMaxSegments) {
      return Fail(fmt::format("the path has more than {} segments", kMaxSegments));
    }
    if (At('[')) return Bracket(s);
    if (!At('.')) return Fail(fmt::format("expected '.' or '[', found '{}'", text_[pos_]));
    ++pos_;
    if (At('.')) {
      ++pos_;
      s->descendant = true;
      if (At('[')) return Bracket(s);
    }
    return DotName(s);
  }

  // `*` or a member name up to the next `.` or `[`.
  Status DotName(Segment* s) {
    Selector sel;
    if (At('*')) {
      ++pos_;
      sel.kind = Selector::Kind::kWildcard;
      s->selectors.push_back(std::move(sel));
      return Status::OK();
    }
    const size_t begin = pos_;
    if (depth_ > 0) {
      // Inside a filter a name ends where RFC 9535's member-name-shorthand does: at the
      // first character that is not a letter, a digit, '_' or non-ASCII.
      auto name_char = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c >= 0x80;
      };
      while (pos_ < text_.size() && name_char(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ == begin) return Fail("a member name is missing");
      if (text_[begin] >= '0' && text_[begin] <= '9')
        return Fail("a member name starts with a digit");
    }
    while (depth_ == 0 && pos_ < text_.size() && text_[pos_] != '.' && text_[pos_] != '[') {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c <= ' ' || c == ']' || c == '\'' || c == '"' || c == '*' || c == 0x7f) {
        return Fail(fmt::format("'{}' in a member name (quote it: ['...'])",
                                c < ' ' || c == 0x7f ? '?' : static_cast<char>(c)));
      }
      ++pos_;
    }
    if (pos_ == begin) return Fail("a member name is missing");
    sel.name.assign(text_.substr(begin, pos_ - begin));
    if (!simdjson::validate_utf8(sel.name.data(), sel.name.size())) {
      return Fail("a member name that is not UTF-8");
    }
    s->selectors.push_back(std::move(sel));
    return Status::OK();
  }

  // `[` selector (`,` selector)* `]`.
  Status Bracket(Segment* s) {
    ++pos_;
    while (true) {
      SkipSpace();
      Selector sel;
      if (At('?')) {
        ++pos_;
        if (Status st = Filter(&sel); !st.ok()) return st;
      } else if (Status st = BracketSelector(&sel); !st.ok()) {
        return st;
      }
      s->selectors.push_back(std::move(sel));
      SkipSpace();
      if (At(']')) {
        ++pos_;
        return Status::OK();
      }
      if (!At(',')) return Fail("expected ',' or ']'");
      ++pos_;
    }
  }

  Status BracketSelector(Selector* sel) {
    if (pos_ >= text_.size()) return Fail("the path ends inside '['");
    const char c = text_[pos_];
    if (c == '*') {
      ++pos_;
      sel->kind = Selector::Kind::kWildcard;
      return Status::OK();
    }
    if (c == '\'' || c == '"') {
      sel->kind = Selector::Kind::kName;
      return Quoted(c, &sel->name);
    }
    if (c != '-' && c != ':' && (c < '0' || c > '9')) {
      return Fail("expected a name in quotes, an index, a slice or '*'");
    }
    std::optional<int64_t> first;
    if (c != ':') {
      int64_t v = 0;
      if (Status st = Integer(&v); !st.ok()) return st;
      first = v;
    }
    SkipSpace();
    if (!At(':')) {
      sel->kind = Selector::Kind::kIndex;
      sel->index = *first;
      return Status::OK();
    }
    sel->kind = Selector::Kind::kSlice;
    sel->start = first;
    ++pos_;
    SkipSpace();
    if (!At(':') && !At(']') && !At(',')) {
      int64_t v = 0;
      if (Status st = Integer(&v); !st.ok()) return st;
      sel->end = v;
      SkipSpace();
    }
    if (At(':')) {
      ++pos_;
      SkipSpace();
      if (!At(']') && !At(',')) {
        if (Status st = Integer(&sel->step); !st.ok()) return st;
      }
    }
    return Status::OK();
  }

  // ---- Filters (RFC 9535 §2.3.5), by recursive descent at most kMaxFilterDepth deep.

  Status Filter(Selector* sel) {
    sel->kind = Selector::Kind::kFilter;
    return Nested([&] { return Or(&sel->filter, &sel->filter_root); });
  }

  // Runs `parse` one level deeper.
  template <typename Parse>
  Status Nested(Parse parse) {
    if (++depth_ > kMaxFilterDepth) {
      return Fail(fmt::format("filters nest deeper than {} levels", kMaxFilterDepth));
    }
    Status st = parse();
    --depth_;
    return st;
  }

  static int32_t Push(std::vector<FilterNode>* nodes, FilterNode node) {
    nodes->push_back(std::move(node));
    return static_cast<int32_t>(nodes->size() - 1);
  }

  bool Take(std::string_view token) {
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  // logical-or-expr: and-expr ("||" and-expr)*; likewise and-expr with "&&".
  Status Or(std::vector<FilterNode>* nodes, int32_t* out) {
    return Binary(nodes, out, "||", FilterNode::Kind::kOr,
                  [&](int32_t* operand) { return And(nodes, operand); });
  }
  Status And(std::vector<FilterNode>* nodes, int32_t* out) {
    return Binary(nodes, out, "&&", FilterNode::Kind::kAnd,
                  [&](int32_t* operand) { return Basic(nodes, operand); });
  }
  template <typename Operand>
  Status Binary(std::vector<FilterNode>* nodes, int32_t* out, std::string_view op,
                FilterNode::Kind kind, Operand operand) {
    if (Status st = operand(out); !st.ok()) return st;
    while (true) {
      SkipSpace();
      if (!Take(op)) return Status::OK();
      FilterNode n;
      n.kind = kind;
      n.left = *out;
      if (Status st = operand(&n.right); !st.ok()) return st;
      *out = Push(nodes, std::move(n));
    }
  }

  // paren-expr, "!" expr, comparison-expr or test-expr.
  Status Basic(std::vector<FilterNode>* nodes, int32_t* out) {
    // Each term counts as a segment: a chain of `||` is as long as kMaxSegments at most,
    // and so is the evaluator's recursion over it.
    if (++segments_ > kMaxSegments) {
      return Fail(fmt::format("the path has more than {} segments", kMaxSegments));
    }
    SkipSpace();
    if (Take("!")) {
      FilterNode n;
      n.kind = FilterNode::Kind::kNot;
      SkipSpace();
      Status st = At('(') ? Basic(nodes, &n.left) : Test(nodes, &n.left);
      if (!st.ok()) return st;
      *out = Push(nodes, std::move(n));
      return Status::OK();
    }
    if (Take("(")) {
      Status st = Nested([&] { return Or(nodes, out); });
      if (!st.ok()) return st;
      SkipSpace();
      if (!Take(")")) return Fail("expected ')'");
      return Status::OK();
    }
    int32_t left = -1;
    if (Status st = Comparable(nodes, &left); !st.ok()) return st;
    SkipSpace();
    static constexpr std::pair<std::string_view, FilterNode::Compare> kOps[] = {
        {"==", FilterNode::Compare::kEq}, {"!=", FilterNode::Compare::kNe},
        {"<=", FilterNode::Compare::kLe}, {">=", FilterNode::Compare::kGe},
        {"<", FilterNode::Compare::kLt},  {">", FilterNode::Compare::kGt}};
    for (const auto& [token, compare] : kOps) {
      if (!Take(token)) continue;
      FilterNode n;
      n.kind = FilterNode::Kind::kCompare;
      n.compare = compare;
      n.left = left;
      if (Status st = Comparable(nodes, &n.right); !st.ok()) return st;
      if (Status st = ValueOperand(*nodes, n.left); !st.ok()) return st;
      if (Status st = ValueOperand(*nodes, n.right); !st.ok()) return st;
      *out = Push(nodes, std::move(n));
      return Status::OK();
    }
    if (Take("=~")) {
      FilterNode n;
      n.kind = FilterNode::Kind::kRegex;
      n.left = left;
      if (Status st = Comparable(nodes, &n.right); !st.ok()) return st;
      if (Status st = ValueOperand(*nodes, n.left); !st.ok()) return st;
      if (Status st = ValueOperand(*nodes, n.right); !st.ok()) return st;
      *out = Push(nodes, std::move(n));
      return Status::OK();
    }
    return AsTest(nodes, left, out);
  }

  // A query (tested for existence) or a test function, negated by `!`.
  Status Test(std::vector<FilterNode>* nodes, int32_t* out) {
    int32_t operand = -1;
    if (At('@') || At('$')) {
      if (Status st = Query(nodes, &operand); !st.ok()) return st;
    } else if (pos_ < text_.size() && text_[pos_] >= 'a' && text_[pos_] <= 'z') {
      if (Status st = FunctionCall(nodes, &operand); !st.ok()) return st;
    } else {
      return Fail("expected a query (@ or $) or a function after '!'");
    }
    return AsTest(nodes, operand, out);
  }

  // `at` standing alone as a test: a query's existence, or a test function's result.
  Status AsTest(std::vector<FilterNode>* nodes, int32_t at, int32_t* out) {
    const FilterNode& operand = (*nodes)[static_cast<size_t>(at)];
    if (operand.kind == FilterNode::Kind::kFunction) {
      if (!IsTest(operand.function)) {
        return Fail(fmt::format("{}() is a value, not a test (compare it with something)",
                                Name(operand.function)));
      }
      *out = at;
      return Status::OK();
    }
    if (operand.kind != FilterNode::Kind::kQuery) {
      return Fail("a literal alone is not a test (compare it with something)");
    }
    FilterNode n;
    n.kind = FilterNode::Kind::kExists;
    n.left = at;
    *out = Push(nodes, std::move(n));
    return Status::OK();
  }

  static bool IsTest(FilterNode::Function f) {
    return f == FilterNode::Function::kMatch || f == FilterNode::Function::kSearch;
  }
  static std::string_view Name(FilterNode::Function f) {
    static constexpr std::string_view kNames[] = {"length", "count", "value", "match", "search"};
    return kNames[static_cast<size_t>(f)];
  }

  // name(arguments), RFC 9535 §2.4: the name, `(` right after it, the arguments of the
  // types the function declares, `)`.
  Status FunctionCall(std::vector<FilterNode>* nodes, int32_t* out) {
    const size_t begin = pos_;
    while (pos_ < text_.size() &&
           ((text_[pos_] >= 'a' && text_[pos_] <= 'z') ||
            (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
      ++pos_;
    }
    const std::string_view name = text_.substr(begin, pos_ - begin);
    FilterNode n;
    n.kind = FilterNode::Kind::kFunction;
    size_t args = 0;
    if (name == "length") {
      n.function = FilterNode::Function::kLength;
      args = 1;
    } else if (name == "count" || name == "value") {
      n.function = name == "count" ? FilterNode::Function::kCount : FilterNode::Function::kValue;
      args = 1;
    } else if (name == "match" || name == "search") {
      n.function = name == "match" ? FilterNode::Function::kMatch : FilterNode::Function::kSearch;
      args = 2;
    } else {
      pos_ = begin;
      return Fail(fmt::format("unknown function '{}' (length, count, value, match, search)", name));
    }
    if (!Take("(")) return Fail(fmt::format("expected '(' right after {}", name));
    // Arguments nest as filters do (a function's argument may call a function).
    Status st = Nested([&] {
      for (size_t i = 0; i < args; ++i) {
        SkipSpace();
        if (i > 0 && !Take(",")) return Fail(fmt::format("{}() takes {} arguments", name, args));
        SkipSpace();
        int32_t arg = -1;
        if (n.function == FilterNode::Function::kCount ||
            n.function == FilterNode::Function::kValue) {
          // A nodelist: any query.
          if (!At('@') && !At('$')) return Fail(fmt::format("{}() takes a query", name));
          if (Status q = Query(nodes, &arg); !q.ok()) return q;
        } else {
          if (Status v = Comparable(nodes, &arg); !v.ok()) return v;
          if (Status v = ValueOperand(*nodes, arg); !v.ok()) return v;
        }
        (i == 0 ? n.left : n.right) = arg;
      }
      SkipSpace();
      if (!Take(")"))
        return Fail(fmt::format("{}() takes {} argument{}", name, args, args > 1 ? "s" : ""));
      return Status::OK();
    });
    if (!st.ok()) return st;
    *out = Push(nodes, std::move(n));
    return Status::OK();
  }

  // A value's place (a comparison's operand, a value function's argument) takes a
  // literal, a query of names and indexes only, or a value function.
  Status ValueOperand(const std::vector<FilterNode>& nodes, int32_t at) {
    const FilterNode& n = nodes[static_cast<size_t>(at)];
    if (n.kind == FilterNode::Kind::kFunction && IsTest(n.function)) {
      return Fail(fmt::format("{}() is a test, not a value", Name(n.function)));
    }
    if (n.kind != FilterNode::Kind::kQuery) return Status::OK();
    for (const Segment& s : n.segments) {
      if (s.descendant || s.selectors.size() != 1 ||
          (s.selectors[0].kind != Selector::Kind::kName &&
           s.selectors[0].kind != Selector::Kind::kIndex)) {
        return Fail("a comparison needs a singular query (names and indexes only)");
      }
    }
    return Status::OK();
  }

  Status Comparable(std::vector<FilterNode>* nodes, int32_t* out) {
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("the filter ends early");
    const char c = text_[pos_];
    if (c == '@' || c == '$') return Query(nodes, out);
    FilterNode n;
    n.kind = FilterNode::Kind::kLiteral;
    if (c == '\'' || c == '"') {
      n.literal = FilterNode::Literal::kString;
      if (Status st = Quoted(c, &n.string); !st.ok()) return st;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      if (Status st = Number(&n); !st.ok()) return st;
    } else if (Take("true")) {
      n.literal = FilterNode::Literal::kTrue;
    } else if (Take("false")) {
      n.literal = FilterNode::Literal::kFalse;
    } else if (Take("null")) {
      n.literal = FilterNode::Literal::kNull;
    } else if (c >= 'a' && c <= 'z') {
      return FunctionCall(nodes, out);
    } else {
      return Fail("expected a literal or a query");
    }
    *out = Push(nodes, std::move(n));
    return Status::OK();
  }

  // A JSON number (RFC 8259 §6).
  Status Number(FilterNode* n) {
    const size_t begin = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    Take("-");
    const size_t first_digit = pos_;
    if (!digits()) return Fail("expected a number");
    if (text_[first_digit] == '0' && pos_ - first_digit > 1) {
      return Fail("a number with a leading zero");
    }
    bool integer = true;
    if (Take(".")) {
      integer = false;
      if (!digits()) return Fail("expected digits after '.'");
    }
    if (At('e') || At('E')) {
      integer = false;
      ++pos_;
      if (!Take("+")) Take("-");
      if (!digits()) return Fail("expected an exponent");
    }
    const std::string text(text_.substr(begin, pos_ - begin));
    n->literal = FilterNode::Literal::kNumber;
    n->number = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(n->number)) return Fail("a number out of range");
    if (integer) {
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n->int_value);
      n->integer = ec == std::errc();
    }
    return Status::OK();
  }

  // `@` or `$`, then segments: names (shorthand or bracketed), indexes, slices,
  // wildcards, descendants, filters.
  Status Query(std::vector<FilterNode>* nodes, int32_t* out) {
    FilterNode n;
    n.kind = FilterNode::Kind::kQuery;
    n.relative = text_[pos_] == '@';
    ++pos_;
    while (At('.') || At('[')) {
      Segment seg;
      if (Status st = NextSegment(&seg); !st.ok()) return st;
      n.segments.push_back(std::move(seg));
    }
    *out = Push(nodes, std::move(n));
    return Status::OK();
  }

  Status Integer(int64_t* v) {
    const char* begin = text_.data() + pos_;
    const char* end = text_.data() + text_.size();
    auto [ptr, ec] = std::from_chars(begin, end, *v);
    if (ec == std::errc::result_out_of_range) return Fail("an index out of range");
    if (ec != std::errc() || ptr == begin) return Fail("expected an integer");
    pos_ += static_cast<size_t>(ptr - begin);
    return Status::OK();
  }

  // A quoted name with JSON's escapes (and \' ), as RFC 9535 §2.3.1.1 reads it.
  Status Quoted(char quote, std::string* out) {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == quote) {
        // Names are keys of JSON objects, which hold UTF-8 only.
        if (!simdjson::validate_utf8(out->data(), out->size())) {
          return Fail("a member name that is not UTF-8");
        }
        return Status::OK();
      }
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char e = text_[pos_++];
      switch (e) {
        case '\\':
        case '/':
        case '\'':
        case '"':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u':
          if (Status st = Unicode(out); !st.ok()) return st;
          break;
        default:
          return Fail("an unknown escape");
      }
    }
    return Fail("a quoted name is not closed");
  }

  bool Hex4(uint32_t* v) {
    if (text_.size() - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      *v <<= 4;
      if (c >= '0' && c <= '9') {
        *v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        *v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        *v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  // \uXXXX (a surrogate pair as two), appended as UTF-8.
  Status Unicode(std::string* out) {
    uint32_t cp = 0;
    if (!Hex4(&cp)) return Fail("a \\u escape needs four hex digits");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail("a lone low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (text_.substr(pos_, 2) != "\\u") return Fail("a high surrogate without its low half");
      pos_ += 2;
      if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return Fail("a bad surrogate pair");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return Status::OK();
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t segments_ = 0;  // every segment of the path, those inside filters included
  size_t depth_ = 0;     // filters being parsed, one inside another
};

}  // namespace

Status Parse(std::string_view text, Path* out) { return Parser(text).Run(out); }

}  // namespace devstate::jsonpath
