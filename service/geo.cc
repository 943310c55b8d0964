#include "service/geo.h"

#include <cmath>

namespace devstate::geo {
namespace {

constexpr double kDegToRad = M_PI / 180.0;
constexpr double kEarthRadius = 6372797.560856;  // metres: Redis's
constexpr double kMercatorMax = 20037726.37;

double DegRad(double deg) { return deg * kDegToRad; }
double RadDeg(double rad) { return rad / kDegToRad; }

constexpr Range kLonRange{kLonMin, kLonMax};
constexpr Range kLatRange{kLatMin, kLatMax};

// The bits of `v` spread to the even positions of a 64-bit word.
uint64_t Spread(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
  x = (x | (x << 2)) & 0x3333333333333333ULL;
  x = (x | (x << 1)) & 0x5555555555555555ULL;
  return x;
}

// The even bits of `x` gathered into 32 bits.
uint32_t Gather(uint64_t x) {
  x &= 0x5555555555555555ULL;
  x = (x | (x >> 1)) & 0x3333333333333333ULL;
  x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
  x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
  x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
  return static_cast<uint32_t>(x);
}

// Moves `h` one cell east (d > 0) or west (d < 0): longitude bits are the odd ones.
void MoveX(Hash* h, int d) {
  if (d == 0) return;
  uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL;
  const uint64_t y = h->bits & 0x5555555555555555ULL;
  const uint64_t zz = 0x5555555555555555ULL >> (64 - h->step * 2);
  if (d > 0) {
    x = x + (zz + 1);
  } else {
    x = x | zz;
    x = x - (zz + 1);
  }
  x &= (0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2));
  h->bits = x | y;
}

// Moves `h` one cell north (d > 0) or south (d < 0): latitude bits are the even ones.
void MoveY(Hash* h, int d) {
  if (d == 0) return;
  const uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL;
  uint64_t y = h->bits & 0x5555555555555555ULL;
  const uint64_t zz = 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
  if (d > 0) {
    y = y + (zz + 1);
  } else {
    y = y | zz;
    y = y - (zz + 1);
  }
  y &= (0x5555555555555555ULL >> (64 - h->step * 2));
  h->bits = x | y;
}

Hash Moved(Hash h, int dx, int dy) {
  MoveX(&h, dx);
  MoveY(&h, dy);
  return h;
}

// The geohash precision (bits per coordinate) for a search of `range` metres around
// latitude `lat`: coarser towards the poles.
int StepsFor(double range, double lat) {
  if (range == 0) return kStepMax;
  int step = 1;
  while (range < kMercatorMax) {
    range *= 2;
    step++;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  if (step < 1) step = 1;
  if (step > kStepMax) step = kStepMax;
  return step;
}

double LatDistance(double lat1, double lat2) {
  return kEarthRadius * std::fabs(DegRad(lat2) - DegRad(lat1));
}

void BoundingBox(Shape* s) {
  const bool circle = s->type == Shape::Type::kCircle;
  const double height = s->conversion * (circle ? s->radius : s->height / 2);
  const double width = s->conversion * (circle ? s->radius : s->width / 2);
  const double lat_delta = RadDeg(height / kEarthRadius);
  const double lon_delta_top = RadDeg(width / kEarthRadius / std::cos(DegRad(s->lat + lat_delta)));
  const double lon_delta_bottom =
      RadDeg(width / kEarthRadius / std::cos(DegRad(s->lat - lat_delta)));
  // The hemispheres curve opposite ways: the wider edge bounds the longitudes.
  const bool south = s->lat < 0;
  s->bounds[0] = south ? s->lon - lon_delta_bottom : s->lon - lon_delta_top;
  s->bounds[2] = south ? s->lon + lon_delta_bottom : s->lon + lon_delta_top;
  s->bounds[1] = s->lat - lat_delta;
  s->bounds[3] = s->lat + lat_delta;
}

}  // namespace

bool Encode(Range lon_range, Range lat_range, double lon, double lat, int step, Hash* out) {
  if (step > 32 || step == 0) return false;
  if (lon > kLonMax || lon < kLonMin || lat > kLatMax || lat < kLatMin) return false;
  if (lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max)
    return false;
  double lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
  double lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min);
  lat_offset *= static_cast<double>(uint64_t{1} << step);
  lon_offset *= static_cast<double>(uint64_t{1} << step);
  out->step = static_cast<uint8_t>(step);
  // Truncated to 32 bits as Redis's interleave64 takes them.
  out->bits =
      Spread(static_cast<uint32_t>(lat_offset)) | (Spread(static_cast<uint32_t>(lon_offset)) << 1);
  return true;
}

bool Decode(Range lon_range, Range lat_range, Hash hash, Area* out) {
  if (hash.zero()) return false;
  out->hash = hash;
  const double lat_scale = lat_range.max - lat_range.min;
  const double lon_scale = lon_range.max - lon_range.min;
  const uint32_t ilat = Gather(hash.bits);
  const uint32_t ilon = Gather(hash.bits >> 1);
  const auto cells = static_cast<double>(uint64_t{1} << hash.step);
  out->lat.min = lat_range.min + (ilat * 1.0 / cells) * lat_scale;
  out->lat.max = lat_range.min + ((ilat + 1) * 1.0 / cells) * lat_scale;
  out->lon.min = lon_range.min + (ilon * 1.0 / cells) * lon_scale;
  out->lon.max = lon_range.min + ((ilon + 1) * 1.0 / cells) * lon_scale;
  return true;
}

uint64_t ScoreOf(double lon, double lat) {
  Hash h;
  Encode(kLonRange, kLatRange, lon, lat, kStepMax, &h);
  return h.bits << (52 - h.step * 2);
}

bool Position(double score, double* lon, double* lat) {
  Area area;
  if (!Decode(kLonRange, kLatRange, Hash{static_cast<uint64_t>(score), kStepMax}, &area))
    return false;
  *lon = (area.lon.min + area.lon.max) / 2;
  if (*lon > kLonMax) *lon = kLonMax;
  if (*lon < kLonMin) *lon = kLonMin;
  *lat = (area.lat.min + area.lat.max) / 2;
  if (*lat > kLatMax) *lat = kLatMax;
  if (*lat < kLatMin) *lat = kLatMin;
  return true;
}

std::string GeohashString(double score) {
  static constexpr char kAlphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
  double lon = 0;
  double lat = 0;
  if (!Position(score, &lon, &lat)) return {};
  Hash h;
  Encode({-180, 180}, {-90, 90}, lon, lat, kStepMax, &h);
  std::string out(11, '0');
  for (int i = 0; i < 10; ++i) out[i] = kAlphabet[(h.bits >> (52 - (i + 1) * 5)) & 0x1f];
  return out;  // 52 bits fill 10.4 characters: the 11th is 0, as Redis answers it
}

double Distance(double lon1, double lat1, double lon2, double lat2) {
  const double lon1r = DegRad(lon1);
  const double lon2r = DegRad(lon2);
  const double v = std::sin((lon2r - lon1r) / 2);
  if (v == 0.0) return LatDistance(lat1, lat2);
  const double lat1r = DegRad(lat1);
  const double lat2r = DegRad(lat2);
  const double u = std::sin((lat2r - lat1r) / 2);
  const double a = u * u + std::cos(lat1r) * std::cos(lat2r) * v * v;
  return 2.0 * kEarthRadius * std::asin(std::sqrt(a));
}

std::array<Hash, 9> Boxes(Shape* s) {
  BoundingBox(s);
  const double min_lon = s->bounds[0];
  const double min_lat = s->bounds[1];
  const double max_lon = s->bounds[2];
  const double max_lat = s->bounds[3];
  const double radius =
      s->conversion *
      (s->type == Shape::Type::kCircle
           ? s->radius
           : std::sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2)));
  int steps = StepsFor(radius, s->lat);
  Hash hash;
  Area area;
  // N S E W NE NW SE SW of the centre's cell.
  auto neighbours = [&] {
    Encode(kLonRange, kLatRange, s->lon, s->lat, steps, &hash);
    Decode(kLonRange, kLatRange, hash, &area);
    return std::array<Hash, 8>{Moved(hash, 0, 1),  Moved(hash, 0, -1), Moved(hash, 1, 0),
                               Moved(hash, -1, 0), Moved(hash, 1, 1),  Moved(hash, -1, 1),
                               Moved(hash, 1, -1), Moved(hash, -1, -1)};
  };
  std::array<Hash, 8> n = neighbours();
  // Near a cell's edge the estimated step may leave part of the shape uncovered by the
  // four side cells: one step coarser then.
  Area north, south, east, west;
  Decode(kLonRange, kLatRange, n[0], &north);
  Decode(kLonRange, kLatRange, n[1], &south);
  Decode(kLonRange, kLatRange, n[2], &east);
  Decode(kLonRange, kLatRange, n[3], &west);
  const bool coarser = north.lat.max < max_lat || south.lat.min > min_lat ||
                       east.lon.max < max_lon || west.lon.min > min_lon;
  if (steps > 1 && coarser) {
    steps--;
    n = neighbours();
  }
  // Cells the shape does not reach are not read.
  if (steps >= 2) {
    if (area.lat.min < min_lat) n[1] = n[6] = n[7] = Hash{};  // S SE SW
    if (area.lat.max > max_lat) n[0] = n[4] = n[5] = Hash{};  // N NE NW
    if (area.lon.min < min_lon) n[3] = n[5] = n[7] = Hash{};  // W NW SW
    if (area.lon.max > max_lon) n[2] = n[4] = n[6] = Hash{};  // E NE SE
  }
  return {hash, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]};
}

void ScoreRange(Hash hash, uint64_t* min, uint64_t* max) {
  *min = hash.bits << (52 - hash.step * 2);
  hash.bits++;
  *max = hash.bits << (52 - hash.step * 2);
}

bool Within(const Shape& s, double score, double* lon, double* lat, double* distance) {
  if (!Position(score, lon, lat)) return false;
  if (s.type == Shape::Type::kCircle) {
    *distance = Distance(s.lon, s.lat, *lon, *lat);
    return *distance <= s.radius * s.conversion;
  }
  const double width = s.width * s.conversion;
  const double height = s.height * s.conversion;
  if (LatDistance(*lat, s.lat) > height / 2) return false;
  if (Distance(*lon, *lat, s.lon, *lat) > width / 2) return false;
  *distance = Distance(s.lon, s.lat, *lon, *lat);
  return true;
}

}  // namespace devstate::geo
