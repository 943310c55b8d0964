// JSON documents, as RedisJSON 2.x and MemoryDB define the commands: JSON.SET JSON.GET
// JSON.MGET JSON.DEL JSON.FORGET JSON.TYPE JSON.NUMINCRBY JSON.NUMMULTBY JSON.STRLEN
// JSON.STRAPPEND JSON.OBJKEYS JSON.OBJLEN JSON.ARRAPPEND JSON.ARRINSERT JSON.ARRPOP
// JSON.ARRTRIM JSON.ARRINDEX JSON.ARRLEN JSON.CLEAR JSON.TOGGLE JSON.RESP JSON.DEBUG
// (MEMORY, HELP). Array indexes follow RedisJSON 2.x: ARRINSERT refuses one outside
// [-len, len]; ARRPOP and ARRINDEX's start clamp into the array; ARRTRIM and ARRINDEX's stop
// as RedisJSON normalizes them (stop 0 is the end for ARRINDEX).
//
// Paths (service/jsonpath.h): a JSONPath (`$...`) answers for every match, with null where
// a match has the wrong type; a legacy path (`.a.b`, `.` by default) answers for its first
// match, with an error when there is none or it has the wrong type.
//
// A document is a kJsonRecordType composite record (store/fields.h): its compact text as
// it was last written whole (the base, field "b"), then the RFC 6902 JSON Patches of the
// writes since, one field each under its 4-byte sequence number. (A record written before
// patches existed holds its text as its value and no fields; its next write rewrites it.) A write
// parses the document, edits it inside its commit group and journals only its patch (nlohmann's
// json::diff of before and after), so JSON.SET of one member of a large document journals that
// member. Once the patches add up to the base's size, or number kMaxPatches, the next write
// journals the document whole again and drops them: a write's journal cost is its change plus at
// most 1/kMaxPatches of the document, amortized, and a read applies at most kMaxPatches small
// patches after parsing. A patch that would not rebuild the document byte for byte (a
// reordered object) is not used: that write journals the whole document.
// Reads parse on the connection's thread. A device record answers the reads on its state;
// every write to it is refused.
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <unordered_map>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/json_document.h"
#include "service/jsonpath.h"

namespace devstate::resp {
namespace {

using json::Json;

constexpr size_t kMaxPatches = 64;
constexpr std::string_view kBaseField = "b";

// A document written whole: its text and no patches yet.
RecordPtr JsonRecord(std::string_view text, int64_t expire_at_ms) {
  auto fields = std::make_shared<FieldMap>();
  fields->Set(kBaseField, text);
  return Record::Make(
      {.type = kJsonRecordType, .expire_at_ms = expire_at_ms, .fields = std::move(fields)});
}

// The field of the document's patch number `n` (big-endian: the journal keeps them in order).
std::string PatchName(uint32_t n) {
  const char bytes[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                         static_cast<char>(n >> 8), static_cast<char>(n)};
  return std::string(bytes, sizeof bytes);
}

// The document `r` holds: its base with its patches applied, in order.
bool LoadDocument(const Record& r, Json* doc) {
  if (!r.fields()) return json::Parse(r.value(), doc).ok();
  std::optional<std::string_view> base = r.fields()->Find(kBaseField);
  if (!base || !json::Parse(*base, doc).ok()) return false;
  const size_t n = r.fields()->size() - 1;
  for (size_t i = 0; i < n; ++i) {
    std::optional<std::string_view> text = r.fields()->Find(PatchName(static_cast<uint32_t>(i)));
    Json patch;
    if (!text || !json::Parse(*text, &patch).ok()) return false;
    try {
      doc->patch_inplace(patch);
    } catch (const Json::exception&) {
      return false;
    }
  }
  return true;
}

// The write of `current` (whose document was `before`) as one more patch that makes
// `after`, whose compact text is `text`; none when the document should be journaled whole
// (see the header).
std::optional<Change> AsPatch(const RecordPtr& current, const Json& before, const Json& after,
                              const std::string& text) {
  if (!current || !current->fields() || current->fields()->size() > kMaxPatches) return {};
  size_t patch_bytes = 0, base_bytes = 0;
  current->fields()->ForEach([&](std::string_view name, std::string_view p) {
    (name == kBaseField ? base_bytes : patch_bytes) += p.size();
  });
  const Json patch = Json::diff(before, after);
  std::string patch_text = json::Compact(patch);
  if (patch_bytes + patch_text.size() > base_bytes) return {};
  try {
    Json check = before;
    check.patch_inplace(patch);
    if (json::Compact(check) != text) return {};
  } catch (const Json::exception&) {
    return {};
  }
  auto fields = std::make_shared<FieldMap>(*current->fields());
  const std::string name = PatchName(static_cast<uint32_t>(fields->size() - 1));
  fields->Set(name, patch_text);
  RecordPtr record = Record::Make({.type = kJsonRecordType,
                                   .expire_at_ms = current->expire_at_ms(),
                                   .value = current->value(),
                                   .fields = std::move(fields)});
  return Change::Patch(std::move(record), {{name, std::move(patch_text), false}});
}

std::string NoPathError(std::string_view path) {
  return fmt::format("ERR Path '{}' does not exist", path);
}

std::string WrongPathType(std::string_view expected, std::string_view found) {
  return fmt::format("WRONGTYPE wrong type of path value - expected {} but found {}", expected,
                     found);
}

std::string TooDeepError() {
  return fmt::format("ERR the document would nest deeper than {} levels", json::kMaxDepth);
}

bool ParsePath(ReplyWriter& w, std::string_view text, jsonpath::Path* path) {
  if (Status s = jsonpath::Parse(text, path); !s.ok()) {
    w.Error("ERR " + s.message());
    return false;
  }
  return true;
}

bool ParseValue(ReplyWriter& w, std::string_view text, Json* value) {
  if (Status s = json::Parse(text, value); !s.ok()) {
    w.Error("ERR " + s.message());
    return false;
  }
  return true;
}

// The document a read sees at `key`: from a JSON record or a device record's state.
enum class Found { kMissing, kYes, kOtherType, kDamaged };
Found Document(const RecordPtr& r, Json* doc) {
  if (!r) return Found::kMissing;
  if (r->type() != kJsonRecordType && r->type() != kDeviceRecordType) return Found::kOtherType;
  if (r->type() == kDeviceRecordType) {
    return json::Parse(r->value(), doc).ok() ? Found::kYes : Found::kDamaged;
  }
  return LoadDocument(*r, doc) ? Found::kYes : Found::kDamaged;
}

// As Document, replying for what is not a document; true when `doc` is to be read.
bool ReadDocument(Call& call, std::string_view key, Json* doc) {
  switch (Document(Live(call, key), doc)) {
    case Found::kYes:
      return true;
    case Found::kMissing:
      call.reply.Null();
      return false;
    case Found::kOtherType:
      call.reply.Error(kWrongTypeError);
      return false;
    case Found::kDamaged:
      call.reply.Error("ERR the stored JSON document is damaged");
      return false;
  }
  return false;
}

bool Select(ReplyWriter& w, const Json& doc, const jsonpath::Path& path, json::Selection* sel) {
  if (Status s = sel->Select(doc, path); !s.ok()) {
    w.Error("ERR " + s.message());
    return false;
  }
  return true;
}

// The optional path argument at args[at] ("." when absent); false (and the reply) when
// there are more arguments or the path is invalid.
bool OptionalPath(Call& call, size_t at, std::string_view* text, jsonpath::Path* path) {
  if (call.args.size() > at + 1) {
    call.reply.Error(WrongArity(Lower(call.args[0])));
    return false;
  }
  *text = call.args.size() > at ? std::string_view(call.args[at]) : std::string_view(".");
  return ParsePath(call.reply, *text, path);
}

// A read command's optional path (args[2], "." by default), the document at args[1] and
// what the path selects in it. Not copyable: the selection points into the document.
struct ReadTarget {
  std::string_view text;
  jsonpath::Path path;
  Json doc;
  json::Selection sel;

  ReadTarget() = default;
  ReadTarget(const ReadTarget&) = delete;
  ReadTarget& operator=(const ReadTarget&) = delete;
};

// Fills `t`; false (and the reply) when the path is invalid, the key holds no document
// (null) or another type, or the selection fails.
bool ReadAtPath(Call& call, ReadTarget* t) {
  return OptionalPath(call, 2, &t->text, &t->path) && ReadDocument(call, call.args[1], &t->doc) &&
         Select(call.reply, t->doc, t->path, &t->sel);
}

// What a JSONPath gives one path of JSON.GET: the array of its matches.
Json Matches(const json::Selection& sel) {
  Json all = Json::array();
  for (size_t i = 0; i < sel.size(); ++i) all.push_back(*sel.node(i));
  return all;
}

// JSON.GET's answer for one path: its matches (JSONPath) or its first match (legacy);
// false (and `error`) when a legacy path matches nothing.
bool Answer(const Json& doc, const jsonpath::Path& path, std::string_view text, bool as_jsonpath,
            Json* out, std::string* error) {
  json::Selection sel;
  if (Status s = sel.Select(doc, path); !s.ok()) {
    *error = "ERR " + s.message();
    return false;
  }
  if (as_jsonpath) {
    *out = Matches(sel);
    return true;
  }
  if (sel.empty()) {
    *error = NoPathError(text);
    return false;
  }
  *out = *sel.node(0);
  return true;
}

// JSON.GET key [INDENT s] [NEWLINE s] [SPACE s] [NOESCAPE] [path ...]
void CmdJsonGet(Call& call) {
  json::Format format;
  std::vector<std::string_view> texts;
  for (size_t i = 2; i < call.args.size(); ++i) {
    const std::string option = Lower(call.args[i]);
    std::string* target = option == "indent"    ? &format.indent
                          : option == "newline" ? &format.newline
                          : option == "space"   ? &format.space
                                                : nullptr;
    if (target != nullptr) {
      if (i + 1 >= call.args.size()) return call.reply.Error(kSyntaxError);
      *target = call.args[++i];
    } else if (option != "noescape") {
      texts.push_back(call.args[i]);
    }
  }
  if (texts.empty()) texts.push_back(".");
  std::vector<jsonpath::Path> paths(texts.size());
  bool any_jsonpath = false;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!ParsePath(call.reply, texts[i], &paths[i])) return;
    any_jsonpath |= !paths[i].legacy;
  }
  Json doc;
  if (!ReadDocument(call, call.args[1], &doc)) return;
  Json out;
  std::string error;
  if (texts.size() == 1) {
    if (!Answer(doc, paths[0], texts[0], any_jsonpath, &out, &error))
      return call.reply.Error(error);
  } else {
    // Several paths: an object by path; if any is a JSONPath, each answers with an array.
    out = Json::object();
    for (size_t i = 0; i < texts.size(); ++i) {
      Json one;
      if (!Answer(doc, paths[i], texts[i], any_jsonpath, &one, &error))
        return call.reply.Error(error);
      out[std::string(texts[i])] = std::move(one);
    }
  }
  std::string text;
  json::Write(out, format, &text);
  call.reply.Bulk(text);
}

// JSON.MGET key [key ...] path: each key's answer as JSON.GET key path gives it, null for
// a key that is missing, not a document, or (legacy path) without a match.
void CmdJsonMget(Call& call) {
  const std::string& text = call.args.back();
  jsonpath::Path path;
  if (!ParsePath(call.reply, text, &path)) return;
  const size_t keys = call.args.size() - 2;
  call.reply.Array(keys);
  for (size_t k = 1; k <= keys; ++k) {
    Json doc;
    Json out;
    std::string error;
    if (Document(Live(call, call.args[k]), &doc) != Found::kYes ||
        !Answer(doc, path, text, !path.legacy, &out, &error)) {
      call.reply.Null();
      continue;
    }
    call.reply.Bulk(json::Compact(out));
  }
}

// JSON.TYPE key [path]
void CmdJsonType(Call& call) {
  ReadTarget t;
  if (!ReadAtPath(call, &t)) return;
  const json::Selection& sel = t.sel;
  const jsonpath::Path& path = t.path;
  if (path.legacy) {
    if (sel.empty()) return call.reply.Null();
    return call.reply.Bulk(json::TypeName(*sel.node(0)));
  }
  call.reply.Array(sel.size());
  for (size_t i = 0; i < sel.size(); ++i) call.reply.Bulk(json::TypeName(*sel.node(i)));
}

// JSON.STRLEN, JSON.OBJLEN, JSON.ARRLEN key [path]: per match a size, or null where the
// match is not what `expected` names.
// Replies with `measure` of each match of `path` (text `text`) in `sel`: legacy the first
// match's (an error when there is none or it is not `expected`), JSONPath every match's,
// null where it is not `expected`.
template <typename Measure>
void ReplyMeasured(Call& call, const jsonpath::Path& path, std::string_view text,
                   const json::Selection& sel, std::string_view expected, Measure measure) {
  if (path.legacy) {
    if (sel.empty()) return call.reply.Error(NoPathError(text));
    const std::optional<int64_t> n = measure(*sel.node(0));
    if (!n) return call.reply.Error(WrongPathType(expected, json::TypeName(*sel.node(0))));
    return call.reply.Integer(*n);
  }
  call.reply.Array(sel.size());
  for (size_t i = 0; i < sel.size(); ++i) {
    if (const std::optional<int64_t> n = measure(*sel.node(i))) {
      call.reply.Integer(*n);
    } else {
      call.reply.Null();
    }
  }
}

template <typename Measure>
void ReadLengths(Call& call, std::string_view expected, Measure measure) {
  ReadTarget t;
  if (!ReadAtPath(call, &t)) return;
  ReplyMeasured(call, t.path, t.text, t.sel, expected, measure);
}

std::optional<int64_t> StringLength(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  return static_cast<int64_t>(v.get_ref<const std::string&>().size());
}

template <Json::value_t kType>
std::optional<int64_t> Size(const Json& v) {
  if (v.type() != kType) return std::nullopt;
  return static_cast<int64_t>(v.size());
}

void CmdJsonStrlen(Call& call) { ReadLengths(call, "string", StringLength); }
void CmdJsonObjlen(Call& call) { ReadLengths(call, "object", Size<Json::value_t::object>); }
void CmdJsonArrlen(Call& call) { ReadLengths(call, "array", Size<Json::value_t::array>); }

// A value in RedisJSON's RESP form: null, "true"/"false" as simple strings, integers as
// integers, other numbers and strings as bulk strings, an array as ["[", elements...], an
// object as ["{", name, value, ...]. Depth is bounded by the document's (json::kMaxDepth).
void ReplyResp(ReplyWriter& w, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return w.Null();
    case Json::value_t::boolean:
      return w.Simple(v.get<bool>() ? "true" : "false");
    case Json::value_t::number_integer:
      return w.Integer(v.get<int64_t>());
    case Json::value_t::number_unsigned:  // how the parser keeps a non-negative integer
      if (v.get<uint64_t>() <= INT64_MAX) return w.Integer(static_cast<int64_t>(v.get<uint64_t>()));
      return w.Bulk(json::Compact(v));
    case Json::value_t::string:
      return w.Bulk(v.get_ref<const std::string&>());
    case Json::value_t::array:
      w.Array(v.size() + 1);
      w.Simple("[");
      for (const Json& e : v) ReplyResp(w, e);
      return;
    case Json::value_t::object:
      w.Array(2 * v.size() + 1);
      w.Simple("{");
      for (const auto& [name, e] : v.items()) {
        w.Bulk(name);
        ReplyResp(w, e);
      }
      return;
    default:  // a float (or binary, which JSON text never makes): its JSON text
      return w.Bulk(json::Compact(v));
  }
}

// JSON.RESP key [path]: the value at path (legacy: the first match; JSONPath: every match)
// in RESP form.
void CmdJsonResp(Call& call) {
  ReadTarget t;
  if (!ReadAtPath(call, &t)) return;
  if (t.path.legacy) {
    if (t.sel.empty()) return call.reply.Error(NoPathError(t.text));
    return ReplyResp(call.reply, *t.sel.node(0));
  }
  call.reply.Array(t.sel.size());
  for (size_t i = 0; i < t.sel.size(); ++i) ReplyResp(call.reply, *t.sel.node(i));
}

// The bytes a value holds in memory, as nlohmann::json keeps it: each value's slot, a
// string's or a container's own allocation, an object member's name and tree node.
size_t MemoryOf(const Json& v) {
  size_t n = sizeof(Json);
  if (v.is_string()) n += v.get_ref<const std::string&>().capacity() + sizeof(std::string);
  if (v.is_array()) {
    n += sizeof(Json::array_t);
    for (const Json& e : v) n += MemoryOf(e);
  }
  if (v.is_object()) {
    n += sizeof(Json::object_t);
    for (const auto& [name, e] : v.items()) n += 48 + name.capacity() + MemoryOf(e);
  }
  return n;
}

// JSON.DEBUG MEMORY key [path] (bytes per match; legacy: the first, 0 for a missing key)
// and JSON.DEBUG HELP.
void CmdJsonDebug(Call& call) {
  const std::string sub = Lower(call.args[1]);
  if (sub == "help" && call.args.size() == 2) {
    call.reply.Array(2);
    call.reply.Bulk("MEMORY <key> [path] - reports memory usage");
    call.reply.Bulk("HELP                - this message");
    return;
  }
  if (sub != "memory" || call.args.size() < 3 || call.args.size() > 4) {
    return call.reply.Error("ERR unknown subcommand or wrong number of arguments for 'JSON.DEBUG'");
  }
  std::string_view text = call.args.size() == 4 ? std::string_view(call.args[3]) : ".";
  jsonpath::Path path;
  if (!ParsePath(call.reply, text, &path)) return;
  Json doc;
  switch (Document(Live(call, call.args[2]), &doc)) {
    case Found::kMissing:
      return path.legacy ? call.reply.Integer(0) : call.reply.Array(0);
    case Found::kOtherType:
      return call.reply.Error(kWrongTypeError);
    case Found::kDamaged:
      return call.reply.Error("ERR the stored JSON document is damaged");
    case Found::kYes:
      break;
  }
  json::Selection sel;
  if (!Select(call.reply, doc, path, &sel)) return;
  if (path.legacy) {
    if (sel.empty()) return call.reply.Error(NoPathError(text));
    return call.reply.Integer(static_cast<int64_t>(MemoryOf(*sel.node(0))));
  }
  call.reply.Array(sel.size());
  for (size_t i = 0; i < sel.size(); ++i)
    call.reply.Integer(static_cast<int64_t>(MemoryOf(*sel.node(i))));
}

// RedisJSON's normalize_arr_start_index: a negative index counts from the end, and either
// way it lands inside [0, len - 1] (len > 0).
int64_t ClampIndex(int64_t index, int64_t len) {
  return index < 0 ? std::max<int64_t>(0, len + index) : std::min(index, len - 1);
}

// JSON.ARRINDEX key path value [start [stop]]: per match the first index in [start, stop)
// holding `value` (-1: none; stop 0 or absent: the end), null where the match is not an
// array (legacy: the error).
void CmdJsonArrindex(Call& call) {
  if (call.args.size() > 6) return call.reply.Error(WrongArity("json.arrindex"));
  jsonpath::Path path;
  Json value;
  int64_t start = 0, stop = 0;
  if (!ParsePath(call.reply, call.args[2], &path) || !ParseValue(call.reply, call.args[3], &value))
    return;
  if ((call.args.size() > 4 && !ParseInt64(call.args[4], &start)) ||
      (call.args.size() > 5 && !ParseInt64(call.args[5], &stop))) {
    return call.reply.Error(kNotIntegerError);
  }
  Json doc;
  json::Selection sel;
  if (!ReadDocument(call, call.args[1], &doc) || !Select(call.reply, doc, path, &sel)) return;
  auto find = [&](const Json& arr) -> std::optional<int64_t> {
    if (!arr.is_array()) return std::nullopt;
    const auto len = static_cast<int64_t>(arr.size());
    if (len == 0) return -1;
    const int64_t from = ClampIndex(start, len);
    const int64_t to = stop == 0  ? len
                       : stop < 0 ? std::max<int64_t>(0, len + stop)
                                  : std::min(stop, len);
    for (int64_t i = from; i < to; ++i) {
      if (arr[static_cast<size_t>(i)] == value) return i;
    }
    return -1;
  };
  ReplyMeasured(call, path, call.args[2], sel, "array", find);
}

// JSON.OBJKEYS key [path]
void CmdJsonObjkeys(Call& call) {
  ReadTarget t;
  if (!ReadAtPath(call, &t)) return;
  const json::Selection& sel = t.sel;
  const jsonpath::Path& path = t.path;
  const std::string_view text = t.text;
  auto keys = [&](const Json& v) {
    call.reply.Array(v.size());
    for (const auto& member : v.items()) call.reply.Bulk(member.key());
  };
  if (path.legacy) {
    if (sel.empty()) return call.reply.Error(NoPathError(text));
    if (!sel.node(0)->is_object())
      return call.reply.Error(WrongPathType("object", json::TypeName(*sel.node(0))));
    return keys(*sel.node(0));
  }
  call.reply.Array(sel.size());
  for (size_t i = 0; i < sel.size(); ++i) {
    if (sel.node(i)->is_object()) {
      keys(*sel.node(i));
    } else {
      call.reply.Null();
    }
  }
}

// ---- Writes ----------------------------------------------------------------------------

// What a write decided, for its reply: per match a result (null where the match has the
// wrong type), in the selection's order.
struct Outcome {
  std::string error;
  bool null_reply = false;    // JSON.SET's NX/XX unmet, or nothing to set
  int64_t integer = 0;        // JSON.DEL's count
  std::vector<Json> results;  // per match; null: the wrong type
  std::string first_type;     // the first match's type, for a legacy path's error
};

enum class Edited { kNothing, kChanged, kDeleted };

// Runs `edit(exists, doc, out)` on the key's document inside the commit group, writes the
// document back when it changed (keeping the key's expiry), and replies with `reply`.
template <typename Edit, typename Reply>
void EditDocument(Call& call, Edit edit, Reply reply) {
  auto out = std::make_shared<Outcome>();
  const size_t max_bytes = call.server.limits.parser.max_bulk_bytes;
  Mutation m = Mutation::Apply(call.args[1], [key = call.args[1], edit = std::move(edit), out,
                                              max_bytes](const RecordPtr& current) mutable {
    if (current && current->type() == kDeviceRecordType) {
      out->error = DeviceRecordError(key);
      return Change::None();
    }
    if (current && current->type() != kJsonRecordType) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    Json doc;
    if (current && !LoadDocument(*current, &doc)) {
      out->error = "ERR the stored JSON document is damaged";
      return Change::None();
    }
    const Json before = current ? doc : Json();
    const Edited edited = edit(current != nullptr, doc, *out);
    if (!out->error.empty() || edited == Edited::kNothing) return Change::None();
    if (edited == Edited::kDeleted) return Change::Delete();
    std::string text = json::Compact(doc);
    if (text.size() > max_bytes) {
      out->error = "ERR the JSON document would exceed proto-max-bulk-len";
      return Change::None();
    }
    if (std::optional<Change> patch = AsPatch(current, before, doc, text)) return std::move(*patch);
    return Change::Put(JsonRecord(text, current ? current->expire_at_ms() : 0));
  });
  Commit(call, {std::move(m)}, [out, reply = std::move(reply)](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    reply(w, *out);
  });
}

constexpr std::string_view kNoKeyError =
    "ERR could not perform this operation on a key that doesn't exist";

// Selects `path` in `doc` for an edit; false (and out.error) when the selection fails.
bool SelectForEdit(const Json& doc, const jsonpath::Path& path, json::Selection* sel,
                   Outcome& out) {
  if (Status s = sel->Select(doc, path); !s.ok()) {
    out.error = "ERR " + s.message();
    return false;
  }
  return true;
}

// JSON.SET key path value [NX | XX]
void CmdJsonSet(Call& call) {
  if (call.args.size() > 5) return call.reply.Error(kSyntaxError);
  bool nx = false;
  bool xx = false;
  if (call.args.size() == 5) {
    const std::string option = Lower(call.args[4]);
    nx = option == "nx";
    xx = option == "xx";
    if (!nx && !xx) return call.reply.Error(kSyntaxError);
  }
  jsonpath::Path path;
  Json value;
  if (!ParsePath(call.reply, call.args[2], &path) || !ParseValue(call.reply, call.args[3], &value))
    return;
  const size_t value_depth = json::Depth(value);
  EditDocument(
      call,
      [path = std::move(path), value = std::move(value), value_depth, nx, xx](
          bool exists, Json& doc, Outcome& out) {
        if (path.segments.empty()) {  // the root: the whole document
          if ((nx && exists) || (xx && !exists)) {
            out.null_reply = true;
            return Edited::kNothing;
          }
          doc = value;
          return Edited::kChanged;
        }
        if (!exists) {
          out.error = "ERR new objects must be created at the root";
          return Edited::kNothing;
        }
        json::Selection sel;
        if (Status s = sel.SelectForSet(doc, path); !s.ok()) {
          out.error = "ERR " + s.message();
          return Edited::kNothing;
        }
        std::vector<size_t> places;
        for (size_t i : sel.EditOrder()) {
          const bool present = sel.node(i) != nullptr;
          if ((nx && present) || (xx && !present)) continue;
          if (sel.depth(i) + value_depth > json::kMaxDepth) {
            out.error = TooDeepError();
            return Edited::kNothing;
          }
          places.push_back(i);
        }
        if (places.empty()) {
          out.null_reply = true;
          return Edited::kNothing;
        }
        for (size_t i : places) {
          if (Json* node = sel.Resolve(doc, i)) *node = value;
        }
        return Edited::kChanged;
      },
      [](ReplyWriter& w, const Outcome& out) {
        if (out.null_reply) return w.Null();
        w.Ok();
      });
}

// JSON.DEL / JSON.FORGET key [path]: the number of values removed; the root removes the key.
void CmdJsonDel(Call& call) {
  std::string_view text;
  jsonpath::Path path;
  if (!OptionalPath(call, 2, &text, &path)) return;
  EditDocument(
      call,
      [path = std::move(path)](bool exists, Json& doc, Outcome& out) {
        if (!exists) return Edited::kNothing;
        json::Selection sel;
        if (!SelectForEdit(doc, path, &sel, out)) return Edited::kNothing;
        for (size_t i = 0; i < sel.size(); ++i) {
          if (sel.is_root(i)) {
            out.integer = 1;
            return Edited::kDeleted;
          }
        }
        for (size_t i : sel.EditOrder()) out.integer += sel.Erase(doc, i) ? 1 : 0;
        return out.integer > 0 ? Edited::kChanged : Edited::kNothing;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// The edits that answer per match: `apply(node, &result)` changes a match of the right
// type and sets its result (false leaves null: the wrong type); an error stops the edit.
template <typename Apply>
Edited EditMatches(bool exists, Json& doc, const jsonpath::Path& path, Outcome& out, Apply apply) {
  if (!exists) {
    out.error = kNoKeyError;
    return Edited::kNothing;
  }
  json::Selection sel;
  if (!SelectForEdit(doc, path, &sel, out)) return Edited::kNothing;
  out.results.assign(sel.size(), Json());
  if (!sel.empty()) out.first_type = json::TypeName(*sel.node(0));
  const std::vector<size_t> order = sel.EditOrder();
  // An error stops here: the edited copy is dropped and the stored document stays whole.
  bool changed = false;
  for (size_t i : order) {
    Json* node = sel.Resolve(doc, i);
    if (node == nullptr) continue;
    Json result;
    if (!apply(*node, &result, sel.depth(i), out)) {
      if (!out.error.empty()) return Edited::kNothing;
      continue;
    }
    changed = true;
    out.results[i] = std::move(result);
  }
  if (order.size() != sel.size()) {
    // A match reached twice (a union like [0,0]) was edited once, and answers both times.
    std::unordered_map<const Json*, size_t> edited;
    for (size_t i : order) edited.emplace(sel.node(i), i);
    for (size_t i = 0; i < sel.size(); ++i) {
      const auto it = edited.find(sel.node(i));
      if (it != edited.end() && it->second != i) out.results[i] = out.results[it->second];
    }
  }
  return changed ? Edited::kChanged : Edited::kNothing;
}

// Replies for a per-match edit: JSONPath an array (`as_text`: one bulk string of JSON),
// legacy the first match's result or the error for it.
void ReplyResults(ReplyWriter& w, const Outcome& out, bool legacy, std::string_view text,
                  std::string_view expected, bool as_text) {
  if (legacy) {
    if (out.results.empty()) return w.Error(NoPathError(text));
    const Json& first = out.results[0];
    if (first.is_null()) {
      return w.Error(WrongPathType(expected, out.first_type));
    }
    if (as_text) return w.Bulk(json::Compact(first));
    return w.Integer(first.get<int64_t>());
  }
  if (as_text) return w.Bulk(json::Compact(Json(out.results)));
  w.Array(out.results.size());
  for (const Json& r : out.results) {
    if (r.is_null()) {
      w.Null();
    } else {
      w.Integer(r.get<int64_t>());
    }
  }
}

// a + b or a * b as RedisJSON computes them: integers stay integers while they fit in 64
// bits, otherwise a double, which must be finite.
bool Arithmetic(const Json& a, const Json& b, bool multiply, Json* result, std::string* error) {
  if (a.is_number_integer() && b.is_number_integer()) {
    auto wide = [](const Json& v) -> __int128 {
      return v.is_number_unsigned() ? static_cast<__int128>(v.get<uint64_t>())
                                    : static_cast<__int128>(v.get<int64_t>());
    };
    __int128 r = 0;
    const bool overflow = multiply ? __builtin_mul_overflow(wide(a), wide(b), &r)
                                   : __builtin_add_overflow(wide(a), wide(b), &r);
    if (!overflow && r >= INT64_MIN && r <= INT64_MAX) {
      *result = static_cast<int64_t>(r);
      return true;
    }
    if (!overflow && r >= 0 && r <= static_cast<__int128>(UINT64_MAX)) {
      *result = static_cast<uint64_t>(r);
      return true;
    }
  }
  const double x = a.get<double>();
  const double y = b.get<double>();
  const double r = multiply ? x * y : x + y;
  if (!std::isfinite(r)) {
    *error = "ERR the result is not a finite number";
    return false;
  }
  *result = r;
  return true;
}

// JSON.NUMINCRBY / JSON.NUMMULTBY key path number
void NumberOp(Call& call, bool multiply) {
  jsonpath::Path path;
  Json by;
  if (!ParsePath(call.reply, call.args[2], &path) || !ParseValue(call.reply, call.args[3], &by))
    return;
  if (!by.is_number()) return call.reply.Error("ERR the operand is not a number");
  const bool legacy = path.legacy;
  EditDocument(
      call,
      [path = std::move(path), by = std::move(by), multiply](bool exists, Json& doc, Outcome& out) {
        return EditMatches(exists, doc, path, out,
                           [&](Json& node, Json* result, size_t, Outcome& o) {
                             if (!node.is_number()) return false;
                             if (!Arithmetic(node, by, multiply, result, &o.error)) return false;
                             node = *result;
                             return true;
                           });
      },
      [legacy, text = call.args[2]](ReplyWriter& w, const Outcome& out) {
        ReplyResults(w, out, legacy, text, "a number", true);
      });
}

void CmdJsonNumincrby(Call& call) { NumberOp(call, false); }
void CmdJsonNummultby(Call& call) { NumberOp(call, true); }

// JSON.STRAPPEND key [path] string: the new lengths.
void CmdJsonStrappend(Call& call) {
  if (call.args.size() > 4) return call.reply.Error(WrongArity("json.strappend"));
  const std::string text = call.args.size() == 4 ? call.args[2] : ".";
  jsonpath::Path path;
  Json tail;
  if (!ParsePath(call.reply, text, &path) || !ParseValue(call.reply, call.args.back(), &tail))
    return;
  if (!tail.is_string()) return call.reply.Error("ERR the value to append is not a JSON string");
  const bool legacy = path.legacy;
  EditDocument(
      call,
      [path = std::move(path), tail = tail.get<std::string>()](bool exists, Json& doc,
                                                               Outcome& out) {
        return EditMatches(exists, doc, path, out, [&](Json& node, Json* result, size_t, Outcome&) {
          if (!node.is_string()) return false;
          auto& s = node.get_ref<std::string&>();
          s += tail;
          *result = static_cast<int64_t>(s.size());
          return true;
        });
      },
      [legacy, text](ReplyWriter& w, const Outcome& out) {
        ReplyResults(w, out, legacy, text, "string", false);
      });
}

// JSON.ARRAPPEND key path value [value ...] and JSON.ARRINSERT key path index value
// [value ...]: the values inserted before `index` (none: at the end; negative: from the
// end; it must lie in [-len, len]); the new lengths.
void InsertIntoArrays(Call& call, jsonpath::Path path, std::optional<int64_t> index,
                      size_t first_value) {
  std::vector<Json> values(call.args.size() - first_value);
  size_t deepest = 0;
  for (size_t i = first_value; i < call.args.size(); ++i) {
    if (!ParseValue(call.reply, call.args[i], &values[i - first_value])) return;
    deepest = std::max(deepest, json::Depth(values[i - first_value]));
  }
  const bool legacy = path.legacy;
  EditDocument(
      call,
      [path = std::move(path), values = std::move(values), deepest, index](bool exists, Json& doc,
                                                                           Outcome& out) {
        return EditMatches(exists, doc, path, out,
                           [&](Json& node, Json* result, size_t depth, Outcome& o) {
                             if (!node.is_array()) return false;
                             const auto len = static_cast<int64_t>(node.size());
                             const int64_t at = !index ? len : *index < 0 ? len + *index : *index;
                             if (at < 0 || at > len) {
                               o.error = "ERR index out of bounds";
                               return false;
                             }
                             if (depth + 1 + deepest > json::kMaxDepth) {
                               o.error = TooDeepError();
                               return false;
                             }
                             for (size_t k = 0; k < values.size(); ++k)
                               node.insert(node.begin() + at + static_cast<int64_t>(k), values[k]);
                             *result = static_cast<int64_t>(node.size());
                             return true;
                           });
      },
      [legacy, text = call.args[2]](ReplyWriter& w, const Outcome& out) {
        ReplyResults(w, out, legacy, text, "array", false);
      });
}

void CmdJsonArrappend(Call& call) {
  jsonpath::Path path;
  if (!ParsePath(call.reply, call.args[2], &path)) return;
  InsertIntoArrays(call, std::move(path), std::nullopt, 3);
}

void CmdJsonArrinsert(Call& call) {
  jsonpath::Path path;
  int64_t index = 0;
  if (!ParsePath(call.reply, call.args[2], &path)) return;
  if (!ParseInt64(call.args[3], &index)) return call.reply.Error(kNotIntegerError);
  InsertIntoArrays(call, std::move(path), index, 4);
}

// JSON.ARRPOP key [path [index]]: per match the element removed at `index` (default -1,
// the last; clamped into the array) as JSON text, null for an empty array or (JSONPath) a
// match that is not an array.
void CmdJsonArrpop(Call& call) {
  if (call.args.size() > 4) return call.reply.Error(WrongArity("json.arrpop"));
  const std::string text = call.args.size() > 2 ? call.args[2] : ".";
  jsonpath::Path path;
  int64_t index = -1;
  if (!ParsePath(call.reply, text, &path)) return;
  if (call.args.size() > 3 && !ParseInt64(call.args[3], &index))
    return call.reply.Error(kNotIntegerError);
  const bool legacy = path.legacy;
  // A match's result: [its text] when popped, [] for an empty array; null: not an array.
  EditDocument(
      call,
      [path = std::move(path), index](bool exists, Json& doc, Outcome& out) {
        return EditMatches(exists, doc, path, out, [&](Json& node, Json* result, size_t, Outcome&) {
          if (!node.is_array()) return false;
          *result = Json::array();
          if (node.empty()) return true;
          const auto at = static_cast<size_t>(ClampIndex(index, static_cast<int64_t>(node.size())));
          result->push_back(json::Compact(node[at]));
          node.erase(node.begin() + static_cast<ptrdiff_t>(at));
          return true;
        });
      },
      [legacy, text](ReplyWriter& w, const Outcome& out) {
        auto one = [&](const Json& r) {
          if (r.is_null() || r.empty()) return w.Null();
          w.Bulk(r[0].get_ref<const std::string&>());
        };
        if (legacy) {
          if (out.results.empty()) return w.Error(NoPathError(text));
          if (out.results[0].is_null()) return w.Error(WrongPathType("array", out.first_type));
          return one(out.results[0]);
        }
        w.Array(out.results.size());
        for (const Json& r : out.results) one(r);
      });
}

// JSON.ARRTRIM key path start stop: keeps the elements in [start, stop] as RedisJSON 2.x
// normalizes them (out-of-range indexes never fail; start past the end empties the array);
// the new lengths.
void CmdJsonArrtrim(Call& call) {
  jsonpath::Path path;
  int64_t start = 0, stop = 0;
  if (!ParsePath(call.reply, call.args[2], &path)) return;
  if (!ParseInt64(call.args[3], &start) || !ParseInt64(call.args[4], &stop))
    return call.reply.Error(kNotIntegerError);
  const bool legacy = path.legacy;
  EditDocument(
      call,
      [path = std::move(path), start, stop](bool exists, Json& doc, Outcome& out) {
        return EditMatches(exists, doc, path, out, [&](Json& node, Json* result, size_t, Outcome&) {
          if (!node.is_array()) return false;
          const auto len = static_cast<int64_t>(node.size());
          if (len > 0) {
            const int64_t last = ClampIndex(stop, len);
            const int64_t first = start < len ? ClampIndex(start, len) : last + 1;
            if (first > last) {
              node = Json::array();
            } else {
              node.erase(node.begin() + last + 1, node.end());
              node.erase(node.begin(), node.begin() + first);
            }
          }
          *result = static_cast<int64_t>(node.size());
          return true;
        });
      },
      [legacy, text = call.args[2]](ReplyWriter& w, const Outcome& out) {
        ReplyResults(w, out, legacy, text, "array", false);
      });
}

// JSON.CLEAR key [path]: empties arrays and objects, sets numbers to 0; how many it changed.
void CmdJsonClear(Call& call) {
  std::string_view text;
  jsonpath::Path path;
  if (!OptionalPath(call, 2, &text, &path)) return;
  EditDocument(
      call,
      [path = std::move(path)](bool exists, Json& doc, Outcome& out) {
        if (!exists) {
          out.error = kNoKeyError;
          return Edited::kNothing;
        }
        json::Selection sel;
        if (!SelectForEdit(doc, path, &sel, out)) return Edited::kNothing;
        for (size_t i : sel.EditOrder()) {
          Json* node = sel.Resolve(doc, i);
          if (node == nullptr) continue;
          if (node->is_structured() && !node->empty()) {
            *node = node->is_object() ? Json::object() : Json::array();
          } else if (node->is_number() && *node != 0) {
            *node = 0;
          } else {
            continue;
          }
          ++out.integer;
        }
        return out.integer > 0 ? Edited::kChanged : Edited::kNothing;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// JSON.TOGGLE key path: flips booleans; JSONPath an array of 0/1 (null for others), legacy
// "true"/"false".
void CmdJsonToggle(Call& call) {
  jsonpath::Path path;
  if (!ParsePath(call.reply, call.args[2], &path)) return;
  const bool legacy = path.legacy;
  EditDocument(
      call,
      [path = std::move(path)](bool exists, Json& doc, Outcome& out) {
        return EditMatches(exists, doc, path, out, [&](Json& node, Json* result, size_t, Outcome&) {
          if (!node.is_boolean()) return false;
          node = !node.get<bool>();
          *result = node.get<bool>() ? 1 : 0;
          return true;
        });
      },
      [legacy, text = call.args[2]](ReplyWriter& w, const Outcome& out) {
        if (legacy && !out.results.empty() && !out.results[0].is_null()) {
          return w.Bulk(out.results[0].get<int64_t>() != 0 ? "true" : "false");
        }
        ReplyResults(w, out, legacy, text, "boolean", false);
      });
}

}  // namespace

void AddJsonCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> read_fast = {"read", "json", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "json", "slow"};
  const std::vector<std::string_view> write_slow = {"write", "json", "slow"};
  const uint32_t w = kWrite | kDenyOom;
  const uint32_t r = kReadonly;
  t->insert(t->end(),
            {
                {"json.set", -4, w, 1, 1, 1, write_slow, CmdJsonSet,
                 "Sets or updates the JSON value at a path"},
                {"json.get", -2, r, 1, 1, 1, read_slow, CmdJsonGet,
                 "Gets the value at one or more paths in JSON serialized form"},
                {"json.mget", -3, r, 1, -2, 1, read_slow, CmdJsonMget,
                 "Returns the values at a path from one or more keys"},
                {"json.del", -2, kWrite, 1, 1, 1, write_slow, CmdJsonDel, "Deletes a value"},
                {"json.forget", -2, kWrite, 1, 1, 1, write_slow, CmdJsonDel, "Deletes a value"},
                {"json.type", -2, r, 1, 1, 1, read_fast, CmdJsonType,
                 "Returns the type of the JSON value at a path"},
                {"json.numincrby", 4, w, 1, 1, 1, write_slow, CmdJsonNumincrby,
                 "Increments the numeric value at a path by a value"},
                {"json.nummultby", 4, w, 1, 1, 1, write_slow, CmdJsonNummultby,
                 "Multiplies the numeric value at a path by a value"},
                {"json.strlen", -2, r, 1, 1, 1, read_fast, CmdJsonStrlen,
                 "Returns the length of the JSON string at a path"},
                {"json.strappend", -3, w, 1, 1, 1, write_slow, CmdJsonStrappend,
                 "Appends a string to the JSON strings at a path"},
                {"json.objkeys", -2, r, 1, 1, 1, read_slow, CmdJsonObjkeys,
                 "Returns the keys of the JSON objects at a path"},
                {"json.objlen", -2, r, 1, 1, 1, read_fast, CmdJsonObjlen,
                 "Returns the number of keys of the JSON objects at a path"},
                {"json.arrappend", -4, w, 1, 1, 1, write_slow, CmdJsonArrappend,
                 "Appends one or more JSON values to the arrays at a path"},
                {"json.arrlen", -2, r, 1, 1, 1, read_fast, CmdJsonArrlen,
                 "Returns the length of the arrays at a path"},
                {"json.arrinsert", -5, w, 1, 1, 1, write_slow, CmdJsonArrinsert,
                 "Inserts JSON values into the arrays at a path before an index"},
                {"json.arrpop", -2, kWrite, 1, 1, 1, write_slow, CmdJsonArrpop,
                 "Removes and returns the element at an index of the arrays at a path"},
                {"json.arrtrim", 5, kWrite, 1, 1, 1, write_slow, CmdJsonArrtrim,
                 "Trims the arrays at a path to an inclusive range of indexes"},
                {"json.arrindex", -4, r, 1, 1, 1, read_slow, CmdJsonArrindex,
                 "Returns the first index of a JSON value in the arrays at a path"},
                {"json.resp", -2, r, 1, 1, 1, read_slow, CmdJsonResp,
                 "Returns the JSON value at a path in Redis serialization protocol form"},
                {"json.debug", -2, r, 2, 2, 1, read_slow, CmdJsonDebug,
                 "Debugging container command: MEMORY key [path], HELP"},
                {"json.clear", -2, kWrite, 1, 1, 1, write_slow, CmdJsonClear,
                 "Clears arrays and objects, sets numbers to 0"},
                {"json.toggle", 3, kWrite, 1, 1, 1, write_slow, CmdJsonToggle,
                 "Toggles the boolean values at a path"},
            });
}

}  // namespace devstate::resp
