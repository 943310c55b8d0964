#include "service/jsonpath.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>

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
      Segment s;
      if (Status st = DotName(&s); !st.ok()) return st;
      out->segments.push_back(std::move(s));
    }
    while (pos_ < text_.size()) {
      if (out->segments.size() >= kMaxSegments) {
        return Fail(fmt::format("the path has more than {} segments", kMaxSegments));
      }
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
    while (pos_ < text_.size() && text_[pos_] != '.' && text_[pos_] != '[') {
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
      if (At('?')) return Fail("filter expressions are not supported");
      Selector sel;
      if (Status st = BracketSelector(&sel); !st.ok()) return st;
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
};

}  // namespace

Status Parse(std::string_view text, Path* out) { return Parser(text).Run(out); }

}  // namespace devstate::jsonpath
