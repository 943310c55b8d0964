-- wrk: POST /devices/<id> with one realistic event; ids spread over 10,000 devices.
local n = 0
local thread_no = 0
function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end
function request()
  n = n + 1
  local id = string.format("dev-%d-%d", thread_no, n % 5000)
  local body = string.format(
    '{"status":"active","temperature":%d.%d,"batteryLevel":%d,"latitude":52.52,"longitude":13.40,"ts":%d}',
    n % 40, n % 10, n % 100, 1700000000000 + n)
  return wrk.format("POST", "/devices/" .. id, {["Content-Type"] = "application/json"}, body)
end
