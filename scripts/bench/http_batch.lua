-- wrk: POST /events with a batch of 100 events (NDJSON) for 100 different devices.
local n = 0
local thread_no = 0
function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end
function request()
  local lines = {}
  for i = 1, 100 do
    n = n + 1
    lines[i] = string.format(
      '{"deviceId":"dev-%d-%d","status":"active","temperature":%d.%d,"batteryLevel":%d,"ts":%d}',
      thread_no, n % 5000, n % 40, n % 10, n % 100, 1700000000000 + n)
  end
  return wrk.format("POST", "/events", {["Content-Type"] = "application/x-ndjson"},
                    table.concat(lines, "\n"))
end
