// Geospatial indexing as Redis 7.0 does it (GEOADD, GEOSEARCH ...): a point is a sorted
// set member whose score is a 52-bit geohash, longitude and latitude bits interleaved
// over [-180, 180] x [-85.05112878, 85.05112878]. A search covers its shape with the
// geohash box of the centre and its eight neighbours at a precision estimated from the
// radius, reads each box as a score range, and keeps the members within the shape.
//
// Redis clients and tools compare positions, distances and geohash strings to the digit,
// so the arithmetic here is Redis's own (geohash.c, geohash_helper.c), in the same order
// of floating-point operations: the cell centre a score decodes to, the haversine
// distance on a sphere of 6372797.560856 m, the steps and boxes a search reads. Written
// here because no packaged library computes Redis's variant (its latitude range is the
// Web Mercator one, not geohash's [-90, 90]).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace devstate::geo {

inline constexpr double kLonMin = -180;
inline constexpr double kLonMax = 180;
inline constexpr double kLatMin = -85.05112878;
inline constexpr double kLatMax = 85.05112878;
inline constexpr int kStepMax = 26;  // 52 bits

struct Range {
  double min = 0;
  double max = 0;
};

// A geohash of `step` bits per coordinate (2 * step bits), latitude bits even.
struct Hash {
  uint64_t bits = 0;
  uint8_t step = 0;
  bool zero() const { return bits == 0 && step == 0; }
};

struct Area {
  Hash hash;
  Range lon;
  Range lat;
};

// The cell of (lon, lat) at `step` over the given ranges; false when outside them (or out
// of Redis's limits).
bool Encode(Range lon_range, Range lat_range, double lon, double lat, int step, Hash* out);
// The bounds of `hash`'s cell; false for a zero hash.
bool Decode(Range lon_range, Range lat_range, Hash hash, Area* out);

// A member's score for (lon, lat), which must be within Redis's limits.
uint64_t ScoreOf(double lon, double lat);
// The centre of a score's cell, as GEOPOS answers it; false when it does not decode.
bool Position(double score, double* lon, double* lat);
// The 11-character base-32 geohash of a score (GEOHASH): standard geohash, over [-90, 90].
std::string GeohashString(double score);

// Great-circle distance in metres (Redis's haversine, its earth radius).
double Distance(double lon1, double lat1, double lon2, double lat2);

// What a search covers.
struct Shape {
  enum class Type : uint8_t { kCircle, kBox };
  Type type = Type::kCircle;
  double lon = 0;
  double lat = 0;
  double conversion = 1;  // metres per unit of radius / width / height
  double radius = 0;
  double width = 0;
  double height = 0;
  std::array<double, 4> bounds{};  // min lon, min lat, max lon, max lat (set by Boxes)
};

// The boxes a search reads, in Redis's order: the centre's, then N S E W NE NW SE SW;
// a zero hash is a box not worth reading.
std::array<Hash, 9> Boxes(Shape* shape);
// The scores of box `hash`: [*min, *max).
void ScoreRange(Hash hash, uint64_t* min, uint64_t* max);
// Whether the member of `score` lies in `shape`; if so its position and its distance
// from the shape's centre in metres.
bool Within(const Shape& shape, double score, double* lon, double* lat, double* distance);

}  // namespace devstate::geo
