-- Cycles through pre-signed deliveries (one JSON object per line) so each request is a new, valid delivery.
local cjson_ok, cjson = pcall(require, "cjson")
requests = {}
local path = os.getenv("WRK_REQUESTS")
local target = os.getenv("WRK_PATH") or "/v1/webhooks/generic"
for line in io.lines(path) do
  local id = line:match('"id": "([^"]+)"')
  local ts = line:match('"ts": "([^"]+)"')
  local sig = line:match('"sig": "([^"]+)"')
  local body = line:match('"body": "(.*)"}$')
  body = body:gsub('\\"', '"')
  requests[#requests + 1] = wrk.format("POST", target, {
    ["content-type"] = "application/json", ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig,
  }, body)
end
counter = 0
request = function()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end

-- With WRK_RATE (requests a second over all connections) the sends follow a schedule: the k-th request is due
-- k / rate seconds after the first, whatever the latency, so slow answers do not lower the offered rate (as a
-- fixed pause per connection would); give enough connections to cover rate × latency. Past the last delivery
-- it stops sending new ones (an unknown path answers 404 and is not counted).
local rate = tonumber(os.getenv("WRK_RATE") or "")
if rate then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_usec; } leadflow_timeval;
    int gettimeofday(leadflow_timeval *tv, void *tz);
  ]]
  local tv = ffi.new("leadflow_timeval")
  local function now_ms()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
  end
  local interval = 1000 / rate
  local started = nil
  local scheduled = 0
  delay = function()
    started = started or now_ms()
    scheduled = scheduled + 1
    local wait = started + scheduled * interval - now_ms()
    if wait < 0 then return 0 end
    return wait
  end
  request = function()
    counter = counter + 1
    if counter > #requests then return wrk.format("GET", "/v1/nothing-left-to-send") end
    return requests[counter]
  end
end
