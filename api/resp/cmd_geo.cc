// Geospatial commands, as Redis 7.0 defines them: GEOADD (NX XX CH) GEOPOS GEODIST
// GEOHASH GEOSEARCH GEOSEARCHSTORE (FROMMEMBER FROMLONLAT BYRADIUS BYBOX ASC DESC COUNT
// [ANY] WITHCOORD WITHDIST WITHHASH STOREDIST) and the older GEORADIUS
// GEORADIUSBYMEMBER (STORE STOREDIST) with their _RO forms.
//
// A geo set is a sorted set whose scores are 52-bit geohashes (service/geo.h): GEOADD is
// ZADD of the encoded scores (its events are ZADD's, as in Redis), and every sorted-set
// command works on it. A search reads the nine boxes around the centre as score ranges
// of the set's order tree, so it costs what the boxes hold, not the set. The forms that
// can STORE are writes: they read the set and write the destination in one transaction.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <utility>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/geo.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kNotFloatError = "ERR value is not a valid float";

// Redis's extractLongLatOrReply: two doubles within the indexable range.
bool ParseLonLat(const std::string& lon_text, const std::string& lat_text, double* lon, double* lat,
                 std::string* error) {
  if (!ParseDouble(lon_text, lon) || !ParseDouble(lat_text, lat)) {
    *error = kNotFloatError;
    return false;
  }
  if (*lon < geo::kLonMin || *lon > geo::kLonMax || *lat < geo::kLatMin || *lat > geo::kLatMax) {
    *error = fmt::format("ERR invalid longitude,latitude pair {:.6f},{:.6f}", *lon, *lat);
    return false;
  }
  return true;
}

// Metres per unit; 0 (and the error) for an unknown unit.
double UnitOf(std::string_view unit, std::string* error) {
  if (EqualsNoCase(unit, "m")) return 1;
  if (EqualsNoCase(unit, "km")) return 1000;
  if (EqualsNoCase(unit, "ft")) return 0.3048;
  if (EqualsNoCase(unit, "mi")) return 1609.34;
  *error = "ERR unsupported unit provided. please use M, KM, FT, MI";
  return 0;
}

// Redis's fixedpoint_d2string with 4 decimals: a distance as GEODIST and WITHDIST answer.
std::string Distance4(double d) {
  const long long scaled = std::llrint(d * 10000.0);
  const unsigned long long v = scaled < 0 ? 0ULL - static_cast<unsigned long long>(scaled)
                                          : static_cast<unsigned long long>(scaled);
  return fmt::format("{}{}.{:04}", scaled < 0 ? "-" : "", v / 10000, v % 10000);
}

std::optional<double> MemberScore(const Record* zset, std::string_view member) {
  if (zset == nullptr) return std::nullopt;
  const auto value = zset->fields()->Find(member);
  if (!value) return std::nullopt;
  return FieldMap::ScoreOf(*value);
}

// GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD of the encoded scores.
void CmdGeoadd(Call& call) {
  auto& args = call.args;
  size_t at = 2;
  bool nx = false;
  bool xx = false;
  for (; at < args.size(); ++at) {
    if (EqualsNoCase(args[at], "nx")) {
      nx = true;
    } else if (EqualsNoCase(args[at], "xx")) {
      xx = true;
    } else if (!EqualsNoCase(args[at], "ch")) {
      break;
    }
  }
  if ((args.size() - at) % 3 != 0 || (xx && nx)) return call.reply.Error(kSyntaxError);
  std::vector<std::string> zadd(args.begin(), args.begin() + static_cast<ptrdiff_t>(at));
  zadd[0] = "zadd";
  for (size_t i = at; i < args.size(); i += 3) {
    double lon = 0;
    double lat = 0;
    std::string error;
    if (!ParseLonLat(args[i], args[i + 1], &lon, &lat, &error)) return call.reply.Error(error);
    zadd.push_back(std::to_string(geo::ScoreOf(lon, lat)));
    zadd.push_back(args[i + 2]);
  }
  // ZADD runs on the encoded arguments; the slow log and MONITOR keep the command as sent,
  // as Redis logs a rewritten command as its original.
  std::vector<std::string> sent = std::exchange(args, std::move(zadd));
  FindCommand("zadd")->handler(call);
  args = std::move(sent);
}

// GEOPOS key member [...]: each member's position, null for a missing one.
void CmdGeopos(Call& call) {
  RecordPtr z;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &z)) return;
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i) {
    double lon = 0;
    double lat = 0;
    const std::optional<double> score = MemberScore(z.get(), call.args[i]);
    if (!score || !geo::Position(*score, &lon, &lat)) {
      call.reply.NullArray();
      continue;
    }
    call.reply.Array(2);
    call.reply.HumanLongDouble(lon);
    call.reply.HumanLongDouble(lat);
  }
}

// GEODIST key member1 member2 [M|KM|FT|MI]
void CmdGeodist(Call& call) {
  double to_meters = 1;
  std::string error;
  if (call.args.size() == 5) {
    to_meters = UnitOf(call.args[4], &error);
    if (to_meters == 0) return call.reply.Error(error);
  } else if (call.args.size() > 5) {
    return call.reply.Error(kSyntaxError);
  }
  RecordPtr z;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &z)) return;
  const std::optional<double> a = MemberScore(z.get(), call.args[2]);
  const std::optional<double> b = MemberScore(z.get(), call.args[3]);
  double lon1 = 0, lat1 = 0, lon2 = 0, lat2 = 0;
  if (!a || !b || !geo::Position(*a, &lon1, &lat1) || !geo::Position(*b, &lon2, &lat2))
    return call.reply.Null();
  call.reply.Bulk(Distance4(geo::Distance(lon1, lat1, lon2, lat2) / to_meters));
}

// GEOHASH key member [...]: standard 11-character geohashes, null for a missing member.
void CmdGeohash(Call& call) {
  RecordPtr z;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &z)) return;
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i) {
    const std::optional<double> score = MemberScore(z.get(), call.args[i]);
    std::string hash = score ? geo::GeohashString(*score) : std::string();
    if (hash.empty()) {
      call.reply.Null();
    } else {
      call.reply.Bulk(hash);
    }
  }
}

// --- Searches ---

enum SearchFlags : uint32_t {
  kFromCoords = 1 << 0,  // GEORADIUS: around lon lat
  kFromMember = 1 << 1,  // GEORADIUSBYMEMBER: around a member
  kNoStore = 1 << 2,     // the _RO forms
  kSearch = 1 << 3,      // GEOSEARCH's arguments
  kSearchStore = 1 << 4  // GEOSEARCHSTORE
};

struct Point {
  std::string member;
  double lon = 0;
  double lat = 0;
  double distance = 0;  // metres, then in the request's unit
  double score = 0;
};

// A search's arguments and outcome (Redis's georadiusGeneric).
struct Search {
  std::string error;
  bool source_missing = false;
  std::optional<std::string> store;  // the destination key
  bool store_distance = false;
  bool withdist = false;
  bool withhash = false;
  bool withcoord = false;
  std::vector<Point> points;
};

// Runs the search `args` ask for on `zset` (null: absent), `flags` saying which command.
// The source's type has been checked.
void RunSearch(const std::vector<std::string>& args, uint32_t flags, const Record* zset,
               Search* out) {
  geo::Shape shape;
  size_t base = 0;
  std::string& error = out->error;
  const std::string_view command = args[0];
  if (flags & kFromCoords) {
    base = 6;
    shape.type = geo::Shape::Type::kCircle;
    if (!ParseLonLat(args[2], args[3], &shape.lon, &shape.lat, &error)) return;
  } else if (flags & kFromMember) {
    base = 5;
    shape.type = geo::Shape::Type::kCircle;
    if (zset != nullptr) {
      const std::optional<double> score = MemberScore(zset, args[2]);
      if (!score || !geo::Position(*score, &shape.lon, &shape.lat)) {
        error = "ERR could not decode requested zset member";
        return;
      }
    }
  } else {
    base = (flags & kSearchStore) ? 3 : 2;
    if (flags & kSearchStore) out->store = args[1];
  }
  // BYRADIUS's and GEORADIUS's radius and unit.
  auto radius_at = [&](size_t at) {
    if (!ParseDouble(args[at], &shape.radius)) {
      error = "ERR need numeric radius";
      return false;
    }
    if (shape.radius < 0) {
      error = "ERR radius cannot be negative";
      return false;
    }
    shape.conversion = UnitOf(args[at + 1], &error);
    return shape.conversion != 0;
  };
  if ((flags & (kFromCoords | kFromMember)) && (zset != nullptr || (flags & kFromCoords))) {
    if (!radius_at(base - 2)) return;
  }
  bool frommember = false, fromloc = false, byradius = false, bybox = false, any = false;
  enum class Sort : uint8_t { kNone, kAsc, kDesc } sort = Sort::kNone;
  int64_t count = 0;
  for (size_t i = base; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const size_t remaining = args.size() - i - 1;
    const bool store_ok = !(flags & kNoStore) && !(flags & kSearch);
    if (EqualsNoCase(arg, "withdist")) {
      out->withdist = true;
    } else if (EqualsNoCase(arg, "withhash")) {
      out->withhash = true;
    } else if (EqualsNoCase(arg, "withcoord")) {
      out->withcoord = true;
    } else if (EqualsNoCase(arg, "any")) {
      any = true;
    } else if (EqualsNoCase(arg, "asc")) {
      sort = Sort::kAsc;
    } else if (EqualsNoCase(arg, "desc")) {
      sort = Sort::kDesc;
    } else if (EqualsNoCase(arg, "count") && remaining >= 1) {
      if (!ParseInt64(args[i + 1], &count)) {
        error = kNotIntegerError;
        return;
      }
      if (count <= 0) {
        error = "ERR COUNT must be > 0";
        return;
      }
      ++i;
    } else if ((EqualsNoCase(arg, "store") || EqualsNoCase(arg, "storedist")) && remaining >= 1 &&
               store_ok) {
      out->store = args[i + 1];
      out->store_distance = EqualsNoCase(arg, "storedist");
      ++i;
    } else if (EqualsNoCase(arg, "storedist") && (flags & kSearch) && (flags & kSearchStore)) {
      out->store_distance = true;
    } else if (EqualsNoCase(arg, "frommember") && remaining >= 1 && (flags & kSearch) && !fromloc) {
      if (zset != nullptr) {
        const std::optional<double> score = MemberScore(zset, args[i + 1]);
        if (!score || !geo::Position(*score, &shape.lon, &shape.lat)) {
          error = "ERR could not decode requested zset member";
          return;
        }
      }
      frommember = true;
      ++i;
    } else if (EqualsNoCase(arg, "fromlonlat") && remaining >= 2 && (flags & kSearch) &&
               !frommember) {
      if (!ParseLonLat(args[i + 1], args[i + 2], &shape.lon, &shape.lat, &error)) return;
      fromloc = true;
      i += 2;
    } else if (EqualsNoCase(arg, "byradius") && remaining >= 2 && (flags & kSearch) && !bybox) {
      if (!radius_at(i + 1)) return;
      shape.type = geo::Shape::Type::kCircle;
      byradius = true;
      i += 2;
    } else if (EqualsNoCase(arg, "bybox") && remaining >= 3 && (flags & kSearch) && !byradius) {
      if (!ParseDouble(args[i + 1], &shape.width)) {
        error = "ERR need numeric width";
        return;
      }
      if (!ParseDouble(args[i + 2], &shape.height)) {
        error = "ERR need numeric height";
        return;
      }
      if (shape.height < 0 || shape.width < 0) {
        error = "ERR height or width cannot be negative";
        return;
      }
      shape.conversion = UnitOf(args[i + 3], &error);
      if (shape.conversion == 0) return;
      shape.type = geo::Shape::Type::kBox;
      bybox = true;
      i += 3;
    } else {
      error = kSyntaxError;
      return;
    }
  }
  if (out->store && (out->withdist || out->withhash || out->withcoord)) {
    error = fmt::format("ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                        (flags & kSearchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
    return;
  }
  if ((flags & kSearch) && !(frommember || fromloc)) {
    error =
        fmt::format("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}", command);
    return;
  }
  if ((flags & kSearch) && !(byradius || bybox)) {
    error = fmt::format("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", command);
    return;
  }
  if (any && count == 0) {
    error = "ERR the ANY argument requires COUNT argument";
    return;
  }
  if (zset == nullptr) {
    out->source_missing = true;
    return;
  }
  // COUNT alone means the nearest ones: ascending.
  if (count != 0 && sort == Sort::kNone && !any) sort = Sort::kAsc;
  const size_t limit = any ? static_cast<size_t>(count) : 0;
  const std::array<geo::Hash, 9> boxes = geo::Boxes(&shape);
  const FieldMap& members = *zset->fields();
  size_t last = 0;  // the last neighbour read (0: none yet)
  for (size_t b = 0; b < boxes.size(); ++b) {
    if (boxes[b].zero()) continue;
    // A very large radius makes neighbours repeat: one equal to the neighbour read just
    // before is skipped (as Redis compares them: never with the centre's box).
    if (last != 0 && boxes[b].bits == boxes[last].bits && boxes[b].step == boxes[last].step)
      continue;
    if (limit != 0 && out->points.size() >= limit) break;
    uint64_t min = 0;
    uint64_t max = 0;
    geo::ScoreRange(boxes[b], &min, &max);
    const size_t from = members.RankBefore(static_cast<double>(min), {});
    if (from < members.size()) {
      members.WalkRanks(from, false, [&](std::string_view member, double score) {
        if (score >= static_cast<double>(max)) return false;
        Point p;
        if (geo::Within(shape, score, &p.lon, &p.lat, &p.distance)) {
          p.member.assign(member);
          p.score = score;
          out->points.push_back(std::move(p));
        }
        return limit == 0 || out->points.size() < limit;
      });
    }
    last = b;
  }
  if (sort != Sort::kNone) {
    std::stable_sort(out->points.begin(), out->points.end(), [&](const Point& a, const Point& b) {
      return sort == Sort::kAsc ? a.distance < b.distance : a.distance > b.distance;
    });
  }
  if (count != 0 && out->points.size() > static_cast<size_t>(count))
    out->points.resize(static_cast<size_t>(count));
  for (Point& p : out->points) p.distance /= shape.conversion;
}

void WriteSearch(ReplyWriter& w, const Search& s) {
  const size_t options = (s.withdist ? 1 : 0) + (s.withhash ? 1 : 0) + (s.withcoord ? 1 : 0);
  w.Array(s.points.size());
  for (const Point& p : s.points) {
    if (options > 0) w.Array(options + 1);
    w.Bulk(p.member);
    if (s.withdist) w.Bulk(Distance4(p.distance));
    if (s.withhash) w.Integer(static_cast<int64_t>(p.score));
    if (s.withcoord) {
      w.Array(2);
      w.HumanLongDouble(p.lon);
      w.HumanLongDouble(p.lat);
    }
  }
}

// A search that only reads: GEOSEARCH, GEORADIUS_RO, GEORADIUSBYMEMBER_RO.
void ReadSearch(Call& call, uint32_t flags) {
  RecordPtr z;
  if (!ReadTyped(call, call.args[(flags & kSearchStore) ? 2 : 1], kZsetRecordType, &z)) return;
  Search s;
  RunSearch(call.args, flags, z.get(), &s);
  if (!s.error.empty()) return call.reply.Error(s.error);
  WriteSearch(call.reply, s);
}

// A search that may STORE (GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCHSTORE): the source is
// read and the destination written in one transaction.
void WriteSearchOrStore(Call& call, uint32_t flags) {
  auto s = std::make_shared<Search>();
  const std::string source = call.args[(flags & kSearchStore) ? 2 : 1];
  const size_t max_entries = call.server.zset_max_listpack_entries.load();
  const size_t max_value = call.server.zset_max_listpack_value.load();
  Mutation m = Mutation::Txn(
      [args = call.args, flags, source, s, max_entries, max_value](KeyView& view) {
        RecordPtr z = view.Get(source);
        if (z && z->type() != kZsetRecordType) {
          s->error = kWrongTypeError;
          return;
        }
        RunSearch(args, flags, z.get(), s.get());
        if (!s->error.empty() || !s->store) return;
        const std::vector<Point>& points = s->points;
        RecordPtr stored = MakeZset(
            points.size(),
            [&](size_t i) {
              return std::pair<std::string_view, double>(
                  points[i].member, s->store_distance ? points[i].distance : points[i].score);
            },
            max_entries, max_value);
        if (stored) {
          view.Put(*s->store, std::move(stored));
        } else {
          view.Delete(*s->store);
        }
      },
      2);
  Commit(
      call, {std::move(m)},
      [s](ReplyWriter& w) {
        if (!s->error.empty()) return w.Error(s->error);
        if (s->store) return w.Integer(static_cast<int64_t>(s->points.size()));
        if (s->source_missing) return w.Array(0);
        WriteSearch(w, *s);
      },
      (flags & kSearchStore) ? "geosearchstore" : "georadiusstore");
}

void CmdGeoradius(Call& call) { WriteSearchOrStore(call, kFromCoords); }
void CmdGeoradiusbymember(Call& call) { WriteSearchOrStore(call, kFromMember); }
void CmdGeoradiusRo(Call& call) { ReadSearch(call, kFromCoords | kNoStore); }
void CmdGeoradiusbymemberRo(Call& call) { ReadSearch(call, kFromMember | kNoStore); }
void CmdGeosearch(Call& call) { ReadSearch(call, kSearch); }
void CmdGeosearchstore(Call& call) { WriteSearchOrStore(call, kSearch | kSearchStore); }

// GEORADIUS's and GEORADIUSBYMEMBER's STORE / STOREDIST key, for ACLs, CROSSSLOT and
// COMMAND GETKEYS (the last one given wins, as the command reads them).
void StoreKeyAfter(const std::vector<std::string>& args, size_t base, std::vector<int>* out) {
  int found = 0;
  for (size_t i = base; i + 1 < args.size(); ++i) {
    if (EqualsNoCase(args[i], "store") || EqualsNoCase(args[i], "storedist")) {
      found = static_cast<int>(++i);
    } else if (EqualsNoCase(args[i], "count")) {
      ++i;
    }
  }
  if (found > 0) out->push_back(found);
}
void GeoradiusStoreKey(const std::vector<std::string>& args, std::vector<int>* out) {
  StoreKeyAfter(args, 6, out);
}
void GeoradiusbymemberStoreKey(const std::vector<std::string>& args, std::vector<int>* out) {
  StoreKeyAfter(args, 5, out);
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddGeoCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write = {"write", "geo", "slow"};
  const std::vector<std::string_view> read = {"read", "geo", "slow"};
  const uint32_t w = kWrite | kDenyOom;
  CommandSpec georadius{"georadius",
                        -6,
                        w,
                        1,
                        1,
                        1,
                        write,
                        CmdGeoradius,
                        "Query a sorted set representing a geospatial index to fetch members "
                        "matching a given maximum distance from a point"};
  georadius.option_keys = GeoradiusStoreKey;
  CommandSpec bymember{"georadiusbymember",
                       -5,
                       w,
                       1,
                       1,
                       1,
                       write,
                       CmdGeoradiusbymember,
                       "Query a sorted set representing a geospatial index to fetch members "
                       "matching a given maximum distance from a member"};
  bymember.option_keys = GeoradiusbymemberStoreKey;
  t->insert(
      t->end(),
      {
          {"geoadd", -5, w, 1, 1, 1, write, CmdGeoadd,
           "Add one or more geospatial items in the geospatial index represented using a sorted "
           "set"},
          {"geopos", -2, kReadonly, 1, 1, 1, read, CmdGeopos,
           "Returns longitude and latitude of members of a geospatial index"},
          {"geodist", -4, kReadonly, 1, 1, 1, read, CmdGeodist,
           "Returns the distance between two members of a geospatial index"},
          {"geohash", -2, kReadonly, 1, 1, 1, read, CmdGeohash,
           "Returns members of a geospatial index as standard geohash strings"},
          {"geosearch", -7, kReadonly, 1, 1, 1, read, CmdGeosearch,
           "Query a sorted set representing a geospatial index to fetch members inside an area "
           "of a box or a circle."},
          {"geosearchstore", -8, w, 1, 2, 1, write, CmdGeosearchstore,
           "Query a sorted set representing a geospatial index to fetch members inside an area "
           "of a box or a circle, and store the result in another key."},
          std::move(georadius),
          std::move(bymember),
          {"georadius_ro", -6, kReadonly, 1, 1, 1, read, CmdGeoradiusRo,
           "A read-only variant for GEORADIUS"},
          {"georadiusbymember_ro", -5, kReadonly, 1, 1, 1, read, CmdGeoradiusbymemberRo,
           "A read-only variant for GEORADIUSBYMEMBER"},
      });
}

}  // namespace devstate::resp
