#include "service/geo.h"

#include <gtest/gtest.h>

#include <cmath>

namespace devstate::geo {
namespace {

// Redis's documented examples (GEOADD Sicily 13.361389 38.115556 "Palermo" ...).
TEST(GeoTest, PalermoAndCataniaAsRedisAnswersThem) {
  const auto palermo = static_cast<double>(ScoreOf(13.361389, 38.115556));
  const auto catania = static_cast<double>(ScoreOf(15.087269, 37.502669));
  EXPECT_EQ(palermo, 3479099956230698);
  EXPECT_EQ(catania, 3479447370796909);
  double lon1 = 0, lat1 = 0, lon2 = 0, lat2 = 0;
  ASSERT_TRUE(Position(palermo, &lon1, &lat1));
  ASSERT_TRUE(Position(catania, &lon2, &lat2));
  // GEOPOS's cell centre, not the point given.
  EXPECT_NEAR(lon1, 13.36138933897018433, 1e-12);
  EXPECT_NEAR(lat1, 38.11555639549629859, 1e-12);
  EXPECT_NEAR(Distance(lon1, lat1, lon2, lat2), 166274.1516, 1e-4);
  EXPECT_EQ(GeohashString(palermo), "sqc8b49rny0");
  EXPECT_EQ(GeohashString(catania), "sqdtr74hyu0");
}

TEST(GeoTest, EncodingRefusesWhatCannotBeIndexed) {
  Hash h;
  EXPECT_FALSE(Encode({kLonMin, kLonMax}, {kLatMin, kLatMax}, 0, 86, kStepMax, &h));
  EXPECT_FALSE(Encode({kLonMin, kLonMax}, {kLatMin, kLatMax}, 181, 0, kStepMax, &h));
  EXPECT_FALSE(Encode({kLonMin, kLonMax}, {kLatMin, kLatMax}, 0, 0, 0, &h));
  Area a;
  EXPECT_FALSE(Decode({kLonMin, kLonMax}, {kLatMin, kLatMax}, Hash{}, &a));
}

// The boxes a search reads cover its shape: every point within the radius lies in one.
TEST(GeoTest, TheBoxesOfASearchCoverItsCircle) {
  for (double radius : {10.0, 1000.0, 50000.0, 2e6}) {
    Shape s;
    s.lon = 2.35;
    s.lat = 48.85;
    s.radius = radius;
    const std::array<Hash, 9> boxes = Boxes(&s);
    for (int i = 0; i < 360; i += 5) {
      const double angle = i * M_PI / 180;
      // A point ~0.9 radius away in direction `angle`.
      const double dlat = 0.9 * radius / 6372797.560856 * std::cos(angle) * 180 / M_PI;
      const double dlon = 0.9 * radius / 6372797.560856 * std::sin(angle) * 180 / M_PI /
                          std::cos(s.lat * M_PI / 180);
      const auto score = static_cast<double>(ScoreOf(s.lon + dlon, s.lat + dlat));
      bool covered = false;
      for (const Hash& b : boxes) {
        if (b.zero()) continue;
        uint64_t min = 0, max = 0;
        ScoreRange(b, &min, &max);
        covered =
            covered || (score >= static_cast<double>(min) && score < static_cast<double>(max));
      }
      EXPECT_TRUE(covered) << radius << " " << i;
    }
  }
}

}  // namespace
}  // namespace devstate::geo
