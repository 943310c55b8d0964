#include "service/json_document.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

namespace devstate::json {
namespace {

constexpr auto kReplace = Json::error_handler_t::replace;

std::string Scalar(const Json& v) { return v.dump(-1, ' ', false, kReplace); }

void WriteAt(const Json& v, const Format& f, size_t level, std::string* out) {
  auto line = [&](size_t depth) {
    out->append(f.newline);
    for (size_t i = 0; i < depth; ++i) out->append(f.indent);
  };
  if (v.is_object()) {
    if (v.empty()) return out->append("{}"), void();
    out->push_back('{');
    bool first = true;
    for (const auto& [name, member] : v.items()) {
      if (!first) out->push_back(',');
      first = false;
      line(level + 1);
      out->append(Scalar(Json(name)));
      out->push_back(':');
      out->append(f.space);
      WriteAt(member, f, level + 1, out);
    }
    line(level);
    out->push_back('}');
  } else if (v.is_array()) {
    if (v.empty()) return out->append("[]"), void();
    out->push_back('[');
    bool first = true;
    for (const Json& element : v) {
      if (!first) out->push_back(',');
      first = false;
      line(level + 1);
      WriteAt(element, f, level + 1, out);
    }
    line(level);
    out->push_back(']');
  } else {
    out->append(Scalar(v));
  }
}

// RFC 9535 §2.3.4.2: the indices a slice selects in an array of `len` elements, in order.
template <typename Visit>
void SliceIndices(const jsonpath::Selector& s, int64_t len, Visit visit) {
  if (s.step == 0 || len == 0) return;
  // A step longer than the array selects what the array's length would: clamping it
  // keeps every sum below in range.
  const int64_t step = std::clamp<int64_t>(s.step, -(len + 1), len + 1);
  auto normalize = [len](int64_t i) { return i >= 0 ? i : len + i; };
  if (step > 0) {
    const int64_t lower = std::clamp<int64_t>(normalize(s.start.value_or(0)), 0, len);
    const int64_t upper = std::clamp<int64_t>(normalize(s.end.value_or(len)), 0, len);
    for (int64_t i = lower; i < upper; i += step) visit(i);
  } else {
    const int64_t upper = std::clamp<int64_t>(s.start ? normalize(*s.start) : len - 1, -1, len - 1);
    const int64_t lower = std::clamp<int64_t>(s.end ? normalize(*s.end) : -1, -1, len - 1);
    for (int64_t i = upper; lower < i; i += step) visit(i);
  }
}

using Kind = jsonpath::Selector::Kind;
using FilterNode = jsonpath::FilterNode;

Status TooManyNodes() {
  return Status::InvalidArgument(
      fmt::format("the path reaches more than {} nodes of the document", kMaxMatches));
}

bool IsNumber(const Json& v) { return v.is_number(); }

// RFC 9535 §2.3.5.2.2: numbers by value (an integer and a float may be equal), strings by
// code point (UTF-8's byte order), arrays element by element, objects by their members in
// any order.
bool Equal(const Json& a, const Json& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
    return a == b;  // nlohmann compares signed and unsigned integers exactly
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!Equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [name, value] : a.items()) {
      const auto it = b.find(name);
      if (it == b.end() || !Equal(value, *it)) return false;
    }
    return true;
  }
  return a == b;
}

bool Less(const Json& a, const Json& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (a.is_number_float() || b.is_number_float()) return a.get<double>() < b.get<double>();
    return a < b;
  }
  if (a.is_string() && b.is_string())
    return a.get_ref<const std::string&>() < b.get_ref<const std::string&>();
  return false;
}

Json LiteralValue(const FilterNode& n) {
  switch (n.literal) {
    case FilterNode::Literal::kNumber:
      return n.integer ? Json(n.int_value) : Json(n.number);
    case FilterNode::Literal::kString:
      return Json(n.string);
    case FilterNode::Literal::kTrue:
      return Json(true);
    case FilterNode::Literal::kFalse:
      return Json(false);
    case FilterNode::Literal::kNull:
      break;
  }
  return Json(nullptr);
}

enum class RegexMode : uint8_t {
  kWhole,     // match(): an I-Regexp matching the whole string
  kAnywhere,  // search(): an I-Regexp matching a substring
  kRust,      // =~: RedisJSON's, Rust's regex syntax, matching a substring
};

// An I-Regexp (RFC 9485) in RE2's syntax, as §5.3 maps it: `.` matches any character but
// \n and \r, `^` and `$` are ordinary characters outside a class, and only the escapes
// I-Regexp has are accepted (false for anything else, which is then no I-Regexp).
bool FromIRegexp(std::string_view in, bool whole, std::string* out) {
  out->assign(whole ? "\\A(?:" : "");
  bool in_class = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\\') {
      if (i + 1 >= in.size()) return false;
      const char e = in[++i];
      if (e == 'p' || e == 'P') {
        const size_t close = in.find('}', i);
        if (i + 1 >= in.size() || in[i + 1] != '{' || close == std::string_view::npos) return false;
        out->append(in.substr(i - 1, close - i + 2));
        i = close;
        continue;
      }
      if (std::string_view("()*+-.?[\\]^{|}nrt").find(e) == std::string_view::npos) return false;
      out->push_back('\\');
      out->push_back(e);
    } else if (in_class) {
      if (c == ']') in_class = false;
      out->push_back(c);
    } else if (c == '[') {
      in_class = true;
      out->push_back(c);
      if (i + 1 < in.size() && in[i + 1] == '^') out->push_back(in[++i]);
      if (i + 1 < in.size() && in[i + 1] == ']') out->append("\\]"), ++i;  // a literal ] first
    } else if (c == '.') {
      out->append("[^\\n\\r]");
    } else if (c == '^' || c == '$') {
      out->push_back('\\');
      out->push_back(c);
    } else {
      out->push_back(c);
    }
  }
  if (in_class) return false;
  if (whole) out->append(")\\z");
  return true;
}

// The expressions one filter evaluation compiles, each once: a filter over a large array
// would otherwise compile its pattern once per element. At most kMaxRegexes are kept;
// past that each is compiled for its one use.
class RegexCache {
 public:
  static constexpr size_t kMaxRegexes = 64;

  // The compiled expression, or null when it does not compile.
  const RE2* Get(const std::string& pattern, RegexMode mode) {
    std::string key(1, static_cast<char>(mode));
    key += pattern;
    if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
    std::string translated;
    if (mode != RegexMode::kRust && !FromIRegexp(pattern, mode == RegexMode::kWhole, &translated))
      return nullptr;
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(mode == RegexMode::kRust ? pattern : translated, options);
    if (!re->ok()) re.reset();
    if (cache_.size() >= kMaxRegexes) {
      spare_ = std::move(re);
      return spare_.get();
    }
    return cache_.emplace(std::move(key), std::move(re)).first->second.get();
  }

 private:
  std::map<std::string, std::unique_ptr<RE2>> cache_;
  std::unique_ptr<RE2> spare_;  // the last one compiled past the limit
};

// Selecting children and evaluating filters over one document. Every node a filter's
// query reaches counts against kMaxMatches, with the nodes the path itself selects.
class ChildSelector {
 public:
  ChildSelector(const Json& root, size_t* reached) : root_(root), reached_(reached) {}

  // Calls add(child, position) for each child of `node` that `s` selects, in order.
  // (A name missing from an object is the caller's: JSON.SET may create it.)
  template <typename Add>
  Status Children(const Json& node, const jsonpath::Selector& s, Add add) {
    if (node.is_object()) {
      const auto& members = node.get_ref<const Json::object_t&>();
      if (s.kind == Kind::kName) {
        const auto it = members.find(s.name);
        if (it == members.end()) return Status::OK();
        return add(&it->second, static_cast<uint32_t>(it - members.begin()));
      }
      if (s.kind != Kind::kWildcard && s.kind != Kind::kFilter) return Status::OK();
      for (size_t i = 0; i < members.size(); ++i) {
        const Json& child = (members.begin() + static_cast<std::ptrdiff_t>(i))->second;
        if (Status st = Filtered(s, child, static_cast<uint32_t>(i), add); !st.ok()) return st;
      }
    } else if (node.is_array()) {
      const auto& elements = node.get_ref<const Json::array_t&>();
      const auto len = static_cast<int64_t>(elements.size());
      Status st;
      auto at = [&](int64_t i) {
        if (st.ok()) st = add(&elements[static_cast<size_t>(i)], static_cast<uint32_t>(i));
      };
      if (s.kind == Kind::kWildcard) {
        for (int64_t i = 0; i < len; ++i) at(i);
      } else if (s.kind == Kind::kIndex) {
        const int64_t i = s.index < 0 ? len + s.index : s.index;
        if (i >= 0 && i < len) at(i);
      } else if (s.kind == Kind::kSlice) {
        SliceIndices(s, len, at);
      } else if (s.kind == Kind::kFilter) {
        for (int64_t i = 0; i < len && st.ok(); ++i) {
          st = Filtered(s, elements[static_cast<size_t>(i)], static_cast<uint32_t>(i), add);
        }
      }
      return st;
    }
    return Status::OK();
  }

 private:
  // A wildcard's child, or a filter's when the filter holds for it.
  template <typename Add>
  Status Filtered(const jsonpath::Selector& s, const Json& child, uint32_t position, Add add) {
    if (s.kind == Kind::kFilter) {
      bool holds = false;
      if (Status st = Holds(s, s.filter_root, child, &holds); !st.ok()) return st;
      if (!holds) return Status::OK();
    }
    return add(&child, position);
  }

  Status Holds(const jsonpath::Selector& s, int32_t at, const Json& current, bool* out) {
    const FilterNode& n = s.filter[static_cast<size_t>(at)];
    switch (n.kind) {
      case FilterNode::Kind::kOr:
      case FilterNode::Kind::kAnd: {
        if (Status st = Holds(s, n.left, current, out); !st.ok()) return st;
        if (*out == (n.kind == FilterNode::Kind::kOr)) return Status::OK();
        return Holds(s, n.right, current, out);
      }
      case FilterNode::Kind::kNot: {
        if (Status st = Holds(s, n.left, current, out); !st.ok()) return st;
        *out = !*out;
        return Status::OK();
      }
      case FilterNode::Kind::kExists: {
        std::vector<const Json*> found;
        const FilterNode& q = s.filter[static_cast<size_t>(n.left)];
        if (Status st = Query(q, current, &found); !st.ok()) return st;
        *out = !found.empty();
        return Status::OK();
      }
      case FilterNode::Kind::kCompare:
        return Compare(s, n, current, out);
      case FilterNode::Kind::kFunction:  // match() or search(): the parser allows no other
      case FilterNode::Kind::kRegex:
        return Matches(s, n, current, out);
      default:
        *out = false;  // a literal or query alone: the parser makes neither a test
        return Status::OK();
    }
  }

  // A value's operand: a literal's value, a singular query's node, a value function's
  // result, or nothing (null *value). A computed value is kept in *literal.
  Status Operand(const jsonpath::Selector& s, int32_t at, const Json& current, Json* literal,
                 const Json** value) {
    const FilterNode& n = s.filter[static_cast<size_t>(at)];
    *value = nullptr;
    if (n.kind == FilterNode::Kind::kLiteral) {
      *literal = LiteralValue(n);
      *value = literal;
      return Status::OK();
    }
    if (n.kind == FilterNode::Kind::kFunction && n.function == FilterNode::Function::kLength) {
      Json arg_literal;
      const Json* arg = nullptr;
      if (Status st = Operand(s, n.left, current, &arg_literal, &arg); !st.ok()) return st;
      if (arg == nullptr) return Status::OK();
      if (arg->is_string()) {
        // Unicode scalar values: the UTF-8 bytes that do not continue a character.
        const std::string& text = arg->get_ref<const std::string&>();
        *literal = static_cast<int64_t>(std::count_if(text.begin(), text.end(), [](char c) {
          return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
      } else if (arg->is_array() || arg->is_object()) {
        *literal = static_cast<int64_t>(arg->size());
      } else {
        return Status::OK();
      }
      *value = literal;
      return Status::OK();
    }
    std::vector<const Json*> found;
    const FilterNode& query =
        n.kind == FilterNode::Kind::kFunction ? s.filter[static_cast<size_t>(n.left)] : n;
    if (Status st = Query(query, current, &found); !st.ok()) return st;
    if (n.kind == FilterNode::Kind::kFunction && n.function == FilterNode::Function::kCount) {
      *literal = static_cast<int64_t>(found.size());
      *value = literal;
    } else if (n.kind != FilterNode::Kind::kFunction || found.size() == 1) {
      // A singular query selects one node at most; value() is its node only when it is one.
      *value = found.empty() ? nullptr : found.front();
    }
    return Status::OK();
  }

  // match() and search() (I-Regexp, RFC 9485) and RedisJSON's =~ (Rust's regex syntax,
  // anywhere in the string): false unless both operands are strings and the expression
  // compiles.
  Status Matches(const jsonpath::Selector& s, const FilterNode& n, const Json& current, bool* out) {
    *out = false;
    Json subject_literal, pattern_literal;
    const Json* subject = nullptr;
    const Json* pattern = nullptr;
    if (Status st = Operand(s, n.left, current, &subject_literal, &subject); !st.ok()) return st;
    if (Status st = Operand(s, n.right, current, &pattern_literal, &pattern); !st.ok()) return st;
    if (subject == nullptr || pattern == nullptr || !subject->is_string() ||
        !pattern->is_string()) {
      return Status::OK();
    }
    const auto mode = n.kind == FilterNode::Kind::kRegex           ? RegexMode::kRust
                      : n.function == FilterNode::Function::kMatch ? RegexMode::kWhole
                                                                   : RegexMode::kAnywhere;
    const RE2* re = regexes_.Get(pattern->get_ref<const std::string&>(), mode);
    if (re == nullptr) return Status::OK();
    *out = RE2::PartialMatch(subject->get_ref<const std::string&>(), *re);
    return Status::OK();
  }

  Status Compare(const jsonpath::Selector& s, const FilterNode& n, const Json& current, bool* out) {
    Json left_literal, right_literal;
    const Json* a = nullptr;
    const Json* b = nullptr;
    if (Status st = Operand(s, n.left, current, &left_literal, &a); !st.ok()) return st;
    if (Status st = Operand(s, n.right, current, &right_literal, &b); !st.ok()) return st;
    // Nothing (a query that selects no node) equals only nothing, and orders with nothing.
    auto equal = [&] { return a == nullptr || b == nullptr ? a == b : Equal(*a, *b); };
    auto less = [&](const Json* x, const Json* y) {
      return x != nullptr && y != nullptr && Less(*x, *y);
    };
    switch (n.compare) {
      case FilterNode::Compare::kEq:
        *out = equal();
        break;
      case FilterNode::Compare::kNe:
        *out = !equal();
        break;
      case FilterNode::Compare::kLt:
        *out = less(a, b);
        break;
      case FilterNode::Compare::kLe:
        *out = less(a, b) || equal();
        break;
      case FilterNode::Compare::kGt:
        *out = less(b, a);
        break;
      case FilterNode::Compare::kGe:
        *out = less(b, a) || equal();
        break;
    }
    return Status::OK();
  }

  // The nodes a filter's query selects, from `current` (@) or the root ($).
  Status Query(const FilterNode& q, const Json& current, std::vector<const Json*>* out) {
    std::vector<const Json*> nodes{q.relative ? &current : &root_};
    std::vector<const Json*> next;
    auto add = [&](const Json* child, uint32_t) {
      if (++*reached_ > kMaxMatches) return TooManyNodes();
      next.push_back(child);
      return Status::OK();
    };
    for (const jsonpath::Segment& segment : q.segments) {
      next.clear();
      for (const Json* node : nodes) {
        std::vector<const Json*> stack{node};
        while (!stack.empty()) {
          const Json* n = stack.back();
          stack.pop_back();
          for (const jsonpath::Selector& sel : segment.selectors) {
            if (Status st = Children(*n, sel, add); !st.ok()) return st;
          }
          if (!segment.descendant || !n->is_structured()) continue;
          if (++*reached_ > kMaxMatches) return TooManyNodes();
          for (auto it = n->crbegin(); it != n->crend(); ++it) stack.push_back(&*it);
        }
      }
      nodes.swap(next);
    }
    *out = std::move(nodes);
    return Status::OK();
  }

  const Json& root_;
  size_t* reached_;
  RegexCache regexes_;
};

}  // namespace

Status Parse(std::string_view text, Json* out) {
  bool too_deep = false;
  // Called as each container opens, `depth` levels below the top: a container past the
  // limit is skipped (never built) and the parse fails.
  auto limit = [&too_deep](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        static_cast<size_t>(depth) >= kMaxDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  try {
    *out = Json::parse(text.begin(), text.end(), limit);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for 1e999
    std::string_view what = e.what();
    if (const size_t at = what.find("] "); at != std::string_view::npos) what.remove_prefix(at + 2);
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", what));
  }
  if (too_deep) {
    return Status::InvalidArgument(
        fmt::format("invalid JSON: it nests deeper than {} levels", kMaxDepth));
  }
  return Status::OK();
}

size_t Depth(const Json& value) {
  if (!value.is_structured()) return 0;
  size_t deepest = 0;
  for (const Json& child : value) deepest = std::max(deepest, Depth(child));
  return deepest + 1;
}

void Write(const Json& value, const Format& format, std::string* out) {
  WriteAt(value, format, 0, out);
}

std::string Compact(const Json& value) { return Scalar(value); }

std::string_view TypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::boolean:
      return "boolean";
    default:
      return "null";
  }
}

Status Selection::Run(const Json& root, const jsonpath::Path& path, bool for_set) {
  entries_.clear();
  result_.clear();
  new_names_.clear();
  reached_ = 0;
  entries_.push_back({&root, -1, 0});
  std::vector<int32_t> current{0};
  std::vector<int32_t> next;
  for (size_t k = 0; k < path.segments.size(); ++k) {
    const jsonpath::Segment& segment = path.segments[k];
    const bool create = for_set && k + 1 == path.segments.size() && !segment.descendant &&
                        std::all_of(segment.selectors.begin(), segment.selectors.end(),
                                    [](const jsonpath::Selector& s) {
                                      return s.kind == jsonpath::Selector::Kind::kName;
                                    });
    next.clear();
    for (const int32_t at : current) {
      if (Status s = Apply(segment, at, create, &next); !s.ok()) return s;
    }
    current.swap(next);
  }
  result_ = std::move(current);
  return Status::OK();
}

Status Selection::Add(const Json* node, int32_t parent, uint32_t position,
                      std::vector<int32_t>* next) {
  if (entries_.size() + reached_ >= kMaxMatches) return TooManyNodes();
  entries_.push_back({node, parent, position});
  if (next != nullptr) next->push_back(static_cast<int32_t>(entries_.size() - 1));
  return Status::OK();
}

Status Selection::Apply(const jsonpath::Segment& segment, int32_t at, bool create,
                        std::vector<int32_t>* next) {
  ChildSelector selector(*entries_[0].node, &reached_);
  // The selectors at one node; `entries_` grows meanwhile, so nothing holds a reference.
  auto select = [&](int32_t e) -> Status {
    const Json& node = *entries_[static_cast<size_t>(e)].node;
    for (const jsonpath::Selector& s : segment.selectors) {
      if (create && node.is_object() && s.kind == Kind::kName && !node.contains(s.name)) {
        new_names_.push_back(s.name);
        if (Status st = Add(nullptr, e, static_cast<uint32_t>(new_names_.size() - 1), next);
            !st.ok())
          return st;
        continue;
      }
      Status st = selector.Children(node, s, [&](const Json* child, uint32_t position) {
        return Add(child, e, position, next);
      });
      if (!st.ok()) return st;
    }
    return Status::OK();
  };
  if (!segment.descendant) return select(at);
  // `..`: the node, then each node below it in document order (preorder), from a stack
  // rather than recursion; each passed-through node gets an entry so places stay known.
  std::vector<int32_t> stack{at};
  while (!stack.empty()) {
    const int32_t e = stack.back();
    stack.pop_back();
    if (Status s = select(e); !s.ok()) return s;
    const Json& node = *entries_[static_cast<size_t>(e)].node;
    if (!node.is_structured()) continue;
    const size_t first = entries_.size();
    uint32_t i = 0;
    if (node.is_object()) {
      for (const auto& member : node.get_ref<const Json::object_t&>()) {
        if (Status s = Add(&member.second, e, i++, nullptr); !s.ok()) return s;
      }
    } else {
      for (const Json& element : node.get_ref<const Json::array_t&>()) {
        if (Status s = Add(&element, e, i++, nullptr); !s.ok()) return s;
      }
    }
    for (size_t c = entries_.size(); c > first; --c) stack.push_back(static_cast<int32_t>(c - 1));
  }
  return Status::OK();
}

std::vector<uint32_t> Selection::Steps(int32_t entry) const {
  std::vector<uint32_t> steps;
  for (int32_t e = entry; entries_[static_cast<size_t>(e)].parent >= 0;
       e = entries_[static_cast<size_t>(e)].parent) {
    const Entry& x = entries_[static_cast<size_t>(e)];
    // A member to create sorts after every member its object has.
    steps.push_back(x.node == nullptr ? std::numeric_limits<uint32_t>::max() : x.position);
  }
  std::reverse(steps.begin(), steps.end());
  return steps;
}

size_t Selection::depth(size_t i) const { return Steps(result_[i]).size(); }

std::vector<size_t> Selection::EditOrder() const {
  struct Key {
    std::vector<uint32_t> steps;
    std::string_view new_name;
    size_t index;
  };
  std::vector<Key> keys;
  keys.reserve(result_.size());
  for (size_t i = 0; i < result_.size(); ++i) {
    const Entry& e = entries_[static_cast<size_t>(result_[i])];
    keys.push_back(
        {Steps(result_[i]), e.node == nullptr ? std::string_view(new_names_[e.position]) : "", i});
  }
  auto rank = [](const Key& k) { return std::tie(k.steps, k.new_name); };
  std::sort(keys.begin(), keys.end(),
            [&](const Key& a, const Key& b) { return rank(a) > rank(b); });
  keys.erase(std::unique(keys.begin(), keys.end(),
                         [&](const Key& a, const Key& b) { return rank(a) == rank(b); }),
             keys.end());
  std::vector<size_t> order;
  order.reserve(keys.size());
  for (const Key& k : keys) order.push_back(k.index);
  return order;
}

Json* Selection::Resolve(Json& root, size_t i) const { return ResolveEntry(root, result_[i]); }

Json* Selection::ResolveEntry(Json& root, int32_t entry) const {
  std::vector<int32_t> chain;
  for (int32_t e = entry; e > 0; e = entries_[static_cast<size_t>(e)].parent) {
    chain.push_back(e);
  }
  Json* node = &root;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Entry& e = entries_[static_cast<size_t>(*it)];
    if (node->is_object()) {
      auto& members = node->get_ref<Json::object_t&>();
      if (e.node == nullptr) return &(*node)[new_names_[e.position]];
      if (e.position >= members.size()) return nullptr;
      node = &(members.begin() + e.position)->second;
    } else if (node->is_array()) {
      auto& elements = node->get_ref<Json::array_t&>();
      if (e.node == nullptr || e.position >= elements.size()) return nullptr;
      node = &elements[e.position];
    } else {
      return nullptr;
    }
  }
  return node;
}

bool Selection::Erase(Json& root, size_t i) const {
  const int32_t e = result_[i];
  const Entry& place = entries_[static_cast<size_t>(e)];
  if (place.parent < 0 || place.node == nullptr) return false;
  Json* parent = ResolveEntry(root, place.parent);
  if (parent == nullptr) return false;
  if (parent->is_object()) {
    auto& members = parent->get_ref<Json::object_t&>();
    if (place.position >= members.size()) return false;
    members.erase(members.begin() + place.position);
    return true;
  }
  if (parent->is_array()) {
    auto& elements = parent->get_ref<Json::array_t&>();
    if (place.position >= elements.size()) return false;
    elements.erase(elements.begin() + place.position);
    return true;
  }
  return false;
}

}  // namespace devstate::json
