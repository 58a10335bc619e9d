-- wrk script for bench/bench_api.sh: GET /v1/customers/{id}/usage of a
-- random customer of bench/close_load.sql's set, with the API key.
--   BENCH_KEYS       bearer keys (admin scope), space separated: each
--                    request takes one at random (see bench_api.sh on why)
--   BENCH_CUSTOMERS  how many customers were loaded (cust_000001 ...)
local n = tonumber(os.getenv("BENCH_CUSTOMERS") or "100000")
local fmt = "/v1/customers/cust_%0" .. math.max(6, #tostring(n)) .. "d/usage"
local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS") or "", "%S+") do
  keys[#keys + 1] = "Bearer " .. k
end
local headers = {}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  -- Each thread its own sequence, different from run to run.
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  headers["Authorization"] = keys[math.random(1, #keys)]
  return wrk.format("GET", string.format(fmt, math.random(1, n)), headers)
end
