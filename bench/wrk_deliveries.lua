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
