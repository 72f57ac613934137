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

-- With WRK_DELAY_MS each connection pauses between requests: connections × 1000 / delay ≈ the offered rate.
-- Past the last delivery it stops sending new ones (an unknown path answers 404 and is not counted).
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then
  delay = function() return pause end
  request = function()
    counter = counter + 1
    if counter > #requests then return wrk.format("GET", "/v1/nothing-left-to-send") end
    return requests[counter]
  end
end
