#include "service/stream_value.h"

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <charconv>
#include <cstring>

#include "service/record_types.h"
#include "store/coding.h"

namespace devstate {
namespace {

// The rows' scores (see the header): each kind of row is one run, in this order.
constexpr double kCountersScore = -5;
constexpr double kGroupScore = -4;
constexpr double kConsumerScore = -3;
constexpr double kPendingScore = -2;
constexpr double kOwnedScore = -1;

constexpr std::string_view kCountersName = "m";

void PutU64(std::string* out, uint64_t v) {
  const uint64_t le = boost::endian::native_to_little(v);
  out->append(reinterpret_cast<const char*>(&le), sizeof le);
}

uint64_t GetU64(std::string_view* in) {
  uint64_t le = 0;
  if (in->size() < sizeof le) {
    in->remove_prefix(in->size());
    return 0;
  }
  std::memcpy(&le, in->data(), sizeof le);
  in->remove_prefix(sizeof le);
  return boost::endian::little_to_native(le);
}

StreamId GetId(std::string_view* in) {
  if (in->size() < 16) {
    in->remove_prefix(in->size());
    return {};
  }
  const StreamId id = StreamId::Decode(in->substr(0, 16));
  in->remove_prefix(16);
  return id;
}

// `s`, order-preserving and prefix-free: 0x00 as 0x00 0xff, then 0x00 0x01.
void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->append("\0\x01", 2);
}

std::string Prefixed(char kind, std::string_view group) {
  std::string name(1, kind);
  AppendEscaped(&name, group);
  return name;
}
std::string ConsumerPrefix(std::string_view group) { return Prefixed('c', group); }
std::string PendingPrefix(std::string_view group) { return Prefixed('p', group); }
std::string OwnedPrefix(std::string_view group, std::string_view consumer) {
  std::string name = Prefixed('q', group);
  AppendEscaped(&name, consumer);
  return name;
}
std::string ConsumerName(std::string_view group, std::string_view consumer) {
  std::string name = ConsumerPrefix(group);
  AppendEscaped(&name, consumer);
  return name;
}
std::string GroupName(std::string_view group) { return "g" + std::string(group); }
std::string EntryName(StreamId id) { return "e" + id.Encode(); }
// An entry's score: its ms, plus its seq (up to 2047) in 2048ths. Monotonic in id order
// (a fraction below 1 never reaches the next ms; rounding is monotonic), so (score, name)
// order stays id order; and entries of one millisecond rarely tie, which would send them
// down the order tree's name levels (the 9 bytes of 'e' and ms they share, one level per
// nibble). Exact while ms < 2^41 (2039); later ms round coarser, still in order.
double EntryScore(StreamId id) {
  return static_cast<double>(id.ms) + static_cast<double>(std::min<uint64_t>(id.seq, 2047)) / 2048;
}

// The first name after every name that starts with `prefix` (which ends with an escaped
// name's 0x00 0x01, so nothing that starts with it reaches 0x00 0x02).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// A row's payload: its value after the score.
std::string_view Payload(std::string_view value) {
  return value.size() >= 8 ? value.substr(8) : std::string_view();
}

StreamGroup DecodeGroup(std::string_view name, std::string_view value) {
  StreamGroup g;
  g.name.assign(name.substr(1));
  std::string_view in = Payload(value);
  g.last_id = GetId(&in);
  g.entries_read = static_cast<int64_t>(GetU64(&in));
  return g;
}

StreamPending DecodePending(StreamId id, std::string_view value) {
  StreamPending p;
  p.id = id;
  std::string_view in = Payload(value);
  p.delivery_time = static_cast<int64_t>(GetU64(&in));
  p.delivery_count = GetU64(&in);
  p.consumer.assign(in);
  return p;
}

}  // namespace

std::string StreamId::ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }

bool StreamId::Incr() {
  if (seq != UINT64_MAX) {
    ++seq;
    return true;
  }
  if (ms == UINT64_MAX) {
    *this = {};
    return false;
  }
  ++ms;
  seq = 0;
  return true;
}

bool StreamId::Decr() {
  if (seq != 0) {
    --seq;
    return true;
  }
  if (ms == 0) {
    *this = Max();
    return false;
  }
  --ms;
  seq = UINT64_MAX;
  return true;
}

std::string StreamId::Encode() const {
  std::string out(16, '\0');
  const uint64_t ms_be = boost::endian::native_to_big(ms);
  const uint64_t seq_be = boost::endian::native_to_big(seq);
  std::memcpy(out.data(), &ms_be, 8);
  std::memcpy(out.data() + 8, &seq_be, 8);
  return out;
}

StreamId StreamId::Decode(std::string_view bytes) {
  uint64_t ms_be = 0;
  uint64_t seq_be = 0;
  if (bytes.size() >= 16) {
    std::memcpy(&ms_be, bytes.data(), 8);
    std::memcpy(&seq_be, bytes.data() + 8, 8);
  }
  return {boost::endian::big_to_native(ms_be), boost::endian::big_to_native(seq_be)};
}

namespace {
// An unsigned 64-bit number as Redis's string2ull reads it: digits only, no sign.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}
}  // namespace

bool ParseStreamId(std::string_view text, uint64_t missing_seq, bool strict, StreamId* id,
                   bool* seq_given) {
  if (text.size() > 127) return false;
  if (strict && (text == "-" || text == "+")) return false;
  if (seq_given != nullptr) *seq_given = true;
  if (text == "-") {
    *id = {};
    return true;
  }
  if (text == "+") {
    *id = StreamId::Max();
    return true;
  }
  const size_t dash = text.find('-');
  StreamId out;
  if (!ParseU64(text.substr(0, dash), &out.ms)) return false;
  if (dash == std::string_view::npos) {
    out.seq = missing_seq;
  } else if (const std::string_view seq = text.substr(dash + 1);
             seq_given != nullptr && seq == "*") {
    out.seq = 0;
    *seq_given = false;
  } else if (!ParseU64(seq, &out.seq)) {
    return false;
  }
  *id = out;
  return true;
}

std::string EncodeStreamFields(std::span<const std::string> fields_and_values) {
  std::string out;
  PutVarint64(&out, fields_and_values.size());
  for (const std::string& s : fields_and_values) PutLengthPrefixed(&out, s);
  return out;
}

StreamFields DecodeStreamFields(std::string_view payload) {
  StreamFields out;
  uint64_t n = 0;
  if (!GetVarint64(&payload, &n)) return out;
  out.reserve(std::min<uint64_t>(n, payload.size()));
  std::string_view s;
  for (uint64_t i = 0; i < n && GetLengthPrefixed(&payload, &s); ++i) out.push_back(s);
  return out;
}

// --- StreamView ---

StreamView::StreamView(const FieldMap& rows) { Load(rows); }

void StreamView::Load(const FieldMap& rows) {
  rows_ = &rows;
  counters_ = {};
  if (const auto v = rows.Find(kCountersName)) {
    std::string_view in = Payload(*v);
    counters_.last_id = GetId(&in);
    counters_.max_deleted = GetId(&in);
    counters_.entries_added = GetU64(&in);
  }
}

size_t StreamView::RankOf(double score, std::string_view name) const {
  return rows_->RankBefore(score, name);
}

void StreamView::WalkPrefix(
    size_t from, std::string_view prefix,
    const std::function<bool(std::string_view name, std::string_view value)>& fn) const {
  rows_->WalkRanks(from, false, [&](std::string_view name, double) {
    if (!name.starts_with(prefix)) return false;
    return fn(name, rows_->Find(name).value_or(std::string_view()));
  });
}

size_t StreamView::length() const { return rows_->size() - RankOf(0.0, {}); }

StreamId StreamView::FirstId() const {
  StreamId id;
  const size_t first = RankOf(0.0, {});
  if (first >= rows_->size()) return id;
  rows_->WalkRanks(first, false, [&](std::string_view name, double) {
    id = StreamId::Decode(name.substr(1));
    return false;
  });
  return id;
}

StreamId StreamView::LastEntryId() const {
  StreamId id;
  if (length() == 0) return id;
  rows_->WalkRanks(rows_->size() - 1, true, [&](std::string_view name, double) {
    id = StreamId::Decode(name.substr(1));
    return false;
  });
  return id;
}

void StreamView::Range(StreamId start, StreamId end, bool reverse, const EntryFn& fn) const {
  RangeIds(start, end, reverse, [&](StreamId id) {
    const StreamFields fields =
        DecodeStreamFields(Payload(rows_->Find(EntryName(id)).value_or(std::string_view())));
    return fn(id, fields);
  });
}

void StreamView::RangeIds(StreamId start, StreamId end, bool reverse,
                          const std::function<bool(StreamId id)>& fn) const {
  if (start > end) return;
  auto visit = [&](std::string_view name, double) {
    if (name.empty() || name[0] != 'e') return false;
    const StreamId id = StreamId::Decode(name.substr(1));
    if (reverse ? id < start : id > end) return false;
    return fn(id);
  };
  if (!reverse) {
    const size_t from = RankOf(EntryScore(start), EntryName(start));
    if (from < rows_->size()) rows_->WalkRanks(from, false, visit);
    return;
  }
  // The rows up to `end` included.
  const size_t through = RankOf(EntryScore(end), EntryName(end) + '\0');
  if (through > 0) rows_->WalkRanks(through - 1, true, visit);
}

std::optional<StreamFields> StreamView::Entry(StreamId id) const {
  const auto v = rows_->Find(EntryName(id));
  if (!v) return std::nullopt;
  return DecodeStreamFields(Payload(*v));
}

bool StreamView::HasEntry(StreamId id) const { return rows_->Find(EntryName(id)).has_value(); }

std::optional<StreamGroup> StreamView::Group(std::string_view name) const {
  const std::string row = GroupName(name);
  const auto v = rows_->Find(row);
  if (!v) return std::nullopt;
  return DecodeGroup(row, *v);
}

void StreamView::Groups(const std::function<void(const StreamGroup&)>& fn) const {
  WalkPrefix(RankOf(kGroupScore, {}), "g", [&](std::string_view name, std::string_view value) {
    fn(DecodeGroup(name, value));
    return true;
  });
}

size_t StreamView::GroupCount() const {
  return RankOf(kConsumerScore, {}) - RankOf(kGroupScore, {});
}

std::optional<int64_t> StreamView::ConsumerSeen(std::string_view group,
                                                std::string_view consumer) const {
  const auto v = rows_->Find(ConsumerName(group, consumer));
  if (!v) return std::nullopt;
  std::string_view in = Payload(*v);
  return static_cast<int64_t>(GetU64(&in));
}

void StreamView::Consumers(
    std::string_view group,
    const std::function<void(std::string_view name, int64_t seen)>& fn) const {
  const std::string prefix = ConsumerPrefix(group);
  WalkPrefix(RankOf(kConsumerScore, prefix), prefix, [&](std::string_view, std::string_view value) {
    std::string_view in = Payload(value);
    const auto seen = static_cast<int64_t>(GetU64(&in));
    fn(in, seen);
    return true;
  });
}

size_t StreamView::ConsumerCount(std::string_view group) const {
  const std::string prefix = ConsumerPrefix(group);
  return RankOf(kConsumerScore, PrefixEnd(prefix)) - RankOf(kConsumerScore, prefix);
}

std::optional<StreamPending> StreamView::Pending(std::string_view group, StreamId id) const {
  const auto v = rows_->Find(PendingPrefix(group) + id.Encode());
  if (!v) return std::nullopt;
  return DecodePending(id, *v);
}

void StreamView::PendingFrom(std::string_view group, StreamId start,
                             const std::function<bool(const StreamPending&)>& fn) const {
  const std::string prefix = PendingPrefix(group);
  WalkPrefix(RankOf(kPendingScore, prefix + start.Encode()), prefix,
             [&](std::string_view name, std::string_view value) {
               return fn(DecodePending(StreamId::Decode(name.substr(prefix.size())), value));
             });
}

size_t StreamView::PendingCount(std::string_view group) const {
  const std::string prefix = PendingPrefix(group);
  return RankOf(kPendingScore, PrefixEnd(prefix)) - RankOf(kPendingScore, prefix);
}

void StreamView::ConsumerPendingFrom(std::string_view group, std::string_view consumer,
                                     StreamId start,
                                     const std::function<bool(StreamId id)>& fn) const {
  const std::string prefix = OwnedPrefix(group, consumer);
  WalkPrefix(RankOf(kOwnedScore, prefix + start.Encode()), prefix,
             [&](std::string_view name, std::string_view) {
               return fn(StreamId::Decode(name.substr(prefix.size())));
             });
}

size_t StreamView::ConsumerPendingCount(std::string_view group, std::string_view consumer) const {
  const std::string prefix = OwnedPrefix(group, consumer);
  return RankOf(kOwnedScore, PrefixEnd(prefix)) - RankOf(kOwnedScore, prefix);
}

bool StreamView::RangeHasTombstones(StreamId start, StreamId end) const {
  if (length() == 0 || counters_.max_deleted.IsZero()) return false;
  if (FirstId() > counters_.max_deleted) return false;
  return start <= counters_.max_deleted && counters_.max_deleted <= end;
}

int64_t StreamView::EntriesReadAt(StreamId id) const {
  const auto added = static_cast<int64_t>(counters_.entries_added);
  if (added == 0) return 0;
  const auto len = static_cast<int64_t>(length());
  if (len == 0 && id <= counters_.last_id) return added;
  if (id == counters_.last_id) return added;
  if (id > counters_.last_id) return -1;
  const StreamId first = FirstId();
  if (counters_.max_deleted.IsZero() || counters_.max_deleted < first) {
    if (id < first) return added - len;
    if (id == first) return added - len + 1;
  }
  return -1;
}

std::optional<int64_t> StreamView::Lag(const StreamGroup& group) const {
  const auto added = static_cast<int64_t>(counters_.entries_added);
  if (added == 0) return 0;
  if (group.entries_read != -1 && !RangeHasTombstones(group.last_id, StreamId::Max()))
    return added - group.entries_read;
  const int64_t read = EntriesReadAt(group.last_id);
  if (read == -1) return std::nullopt;
  return added - read;
}

// --- StreamEdit ---

StreamEdit::StreamEdit(const RecordPtr& current, bool reusable)
    : fields_(current && current->fields() ? FieldsForEdit(current, reusable)
                                           : std::make_shared<FieldMap>(FieldMap::Scored())) {
  if (current) expire_at_ms_ = current->expire_at_ms();
  Load(*fields_);
  original_ = counters_;
  // A new stream gets its counters' row whatever it does, so it has fields.
  created_ = !current;
}

void StreamEdit::Put(std::string name, double score, std::string_view payload) {
  std::string value = FieldMap::ScoreValue(score);
  value.append(payload);
  fields_->Set(name, value);
  ops_.push_back({std::move(name), std::move(value), false});
}

void StreamEdit::Erase(std::string name) {
  if (!fields_->Erase(name)) return;
  ops_.push_back({std::move(name), {}, true});
}

void StreamEdit::AddEntry(StreamId id, std::span<const std::string> fields_and_values) {
  Put(EntryName(id), EntryScore(id), EncodeStreamFields(fields_and_values));
}

bool StreamEdit::DeleteEntry(StreamId id) {
  const size_t before = ops_.size();
  Erase(EntryName(id));
  return ops_.size() != before;
}

void StreamEdit::PutGroup(const StreamGroup& group) {
  std::string payload = group.last_id.Encode();
  PutU64(&payload, static_cast<uint64_t>(group.entries_read));
  Put(GroupName(group.name), kGroupScore, payload);
}

bool StreamEdit::DestroyGroup(std::string_view name) {
  if (!Group(name)) return false;
  Erase(GroupName(name));
  std::vector<std::string> rows;
  const auto collect = [&](std::string_view row, std::string_view) {
    rows.emplace_back(row);
    return true;
  };
  const std::string consumers = ConsumerPrefix(name);
  const std::string pending = PendingPrefix(name);
  const std::string owned = Prefixed('q', name);
  WalkPrefix(RankOf(kConsumerScore, consumers), consumers, collect);
  WalkPrefix(RankOf(kPendingScore, pending), pending, collect);
  WalkPrefix(RankOf(kOwnedScore, owned), owned, collect);
  for (std::string& row : rows) Erase(std::move(row));
  return true;
}

void StreamEdit::PutConsumer(std::string_view group, std::string_view consumer, int64_t seen) {
  std::string payload;
  PutU64(&payload, static_cast<uint64_t>(seen));
  payload.append(consumer);
  Put(ConsumerName(group, consumer), kConsumerScore, payload);
}

size_t StreamEdit::DeleteConsumer(std::string_view group, std::string_view consumer) {
  std::vector<StreamId> ids;
  ConsumerPendingFrom(group, consumer, {}, [&](StreamId id) {
    ids.push_back(id);
    return true;
  });
  const std::string owned = OwnedPrefix(group, consumer);
  const std::string pending = PendingPrefix(group);
  for (StreamId id : ids) {
    Erase(owned + id.Encode());
    Erase(pending + id.Encode());
  }
  Erase(ConsumerName(group, consumer));
  return ids.size();
}

void StreamEdit::PutPending(std::string_view group, const StreamPending& p) {
  const std::optional<StreamPending> old = Pending(group, p.id);
  std::string payload;
  PutU64(&payload, static_cast<uint64_t>(p.delivery_time));
  PutU64(&payload, p.delivery_count);
  payload.append(p.consumer);
  Put(PendingPrefix(group) + p.id.Encode(), kPendingScore, payload);
  if (old && old->consumer == p.consumer) return;
  if (old) Erase(OwnedPrefix(group, old->consumer) + p.id.Encode());
  Put(OwnedPrefix(group, p.consumer) + p.id.Encode(), kOwnedScore, {});
}

bool StreamEdit::DeletePending(std::string_view group, StreamId id) {
  const std::optional<StreamPending> old = Pending(group, id);
  if (!old) return false;
  Erase(PendingPrefix(group) + id.Encode());
  Erase(OwnedPrefix(group, old->consumer) + id.Encode());
  return true;
}

Change StreamEdit::Finish() {
  if (created_ || counters_.last_id != original_.last_id ||
      counters_.max_deleted != original_.max_deleted ||
      counters_.entries_added != original_.entries_added) {
    std::string payload = counters_.last_id.Encode();
    payload.append(counters_.max_deleted.Encode());
    PutU64(&payload, counters_.entries_added);
    Put(std::string(kCountersName), kCountersScore, payload);
    original_ = counters_;
    created_ = false;
  }
  if (ops_.empty()) return Change::None();
  RecordPtr record = Record::Make(
      {.type = kStreamRecordType, .expire_at_ms = expire_at_ms_, .fields = std::move(fields_)});
  return Change::Patch(std::move(record), std::move(ops_));
}

}  // namespace devstate
