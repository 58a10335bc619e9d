-- wrk script for bench/bench_api.sh: POST /v1/events, a JSON batch
-- (application/cloudevents-batch+json) of BENCH_BATCH token events of
-- random customers of the loaded set.
--   BENCH_KEYS       bearer keys (events:write scope), space separated:
--                    each request takes one at random
--   BENCH_CUSTOMERS  how many customers were loaded (cust_000001 ...)
--   BENCH_BATCH      events per request (default 100)
--   BENCH_NONCE      makes this run's event ids its own
--   BENCH_UNIQUE     1 (default): every event of every request has a new id,
--                    so each is a distinct event; 0: the same body every
--                    time, so all but the first request are duplicates
local n = tonumber(os.getenv("BENCH_CUSTOMERS") or "100000")
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
local unique = (os.getenv("BENCH_UNIQUE") or "1") ~= "0"
local subject = "cust_%0" .. math.max(6, #tostring(n)) .. "d"
local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS") or "", "%S+") do
  keys[#keys + 1] = "Bearer " .. k
end
local headers = { ["Content-Type"] = "application/cloudevents-batch+json" }
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local parts, count, fixed

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  -- A minute ago: inside the month, never ahead of serve's clock.
  local time = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 60)
  parts, count = {}, 0
  for i = 1, batch do
    parts[i] = string.format(
      '","source":"bench/wrk-%d","type":"inference.tokens","subject":"' ..
      subject .. '","time":"%s","data":{"model":"mercury-coder-small",' ..
      '"deployment":"cloud","decoding":"diffusion","input_tokens":%d,' ..
      '"output_tokens":%d,"cached_input_tokens":0}}',
      tid or 0, math.random(1, n), time, math.random(100, 4000),
      math.random(50, 2000))
  end
end

local function body()
  count = count + 1
  local b = {}
  for i = 1, batch do
    b[i] = '{"specversion":"1.0","id":"' .. nonce .. "-" .. (tid or 0) .. "-" .. count .. "-" ..
           i .. parts[i]
  end
  return "[" .. table.concat(b, ",") .. "]"
end

function request()
  headers["Authorization"] = keys[math.random(1, #keys)]
  if not unique then
    fixed = fixed or body()
    return wrk.format("POST", "/v1/events", headers, fixed)
  end
  return wrk.format("POST", "/v1/events", headers, body())
end
