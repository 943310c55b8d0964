// libFuzzer target: the event parser and the merge must never crash, leak or hang on any
// payload, and whatever parses must merge and render as valid, re-parseable state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "service/device_record.h"
#include "service/event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static devstate::EventParser parser;
  static devstate::EventParser state_parser;
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  devstate::Event event;
  // The first byte chooses whether a path id is given, to reach both id paths.
  const std::string_view path_id = size > 0 && data[0] % 2 ? "fuzz-device" : "";
  if (!parser.Parse(payload, path_id, 1000, &event).ok()) return 0;
  devstate::DeviceRecord record;
  devstate::Merge(event, 1, &record);
  devstate::Merge(event, 2, &record);  // a duplicate is stale
  const std::string state = devstate::RenderState(record);
  devstate::Event again;
  if (!state_parser.Parse(state, "", 0, &again).ok()) std::abort();  // rendered state is valid JSON
  devstate::DeviceRecord back;
  if (!devstate::FromRecord(*devstate::ToRecord(record), &back).ok() || !(back == record))
    std::abort();
  return 0;
}
