-- One wrk script for every scenario of tools/bench.py. The driver picks the request shape with
-- BENCH_DRIVER and passes what it needs in the environment, so wrk itself stays the standard tool:
--   static     the same request every time (method, path and headers come from wrk's command line)
--   agent      each request from another of the BENCH_AGENTS seeded agents (their secrets are derived from
--              the agent's number, so no secret file is needed; a stride of 101 spreads consecutive requests
--              over the companies, as real agents are), with the method, path and BENCH_BODY of the
--              scenario, in which %N% becomes the request's number (fresh record ids for each batch)
--   replay     each request is the next line of BENCH_REQUESTS ("header<TAB>body"), e.g. webhook events
--              signed in advance with fresh ids; the thread stops when the file is used up, so no event is
--              sent twice
-- done() prints one JSON line that the driver parses.

local driver = os.getenv("BENCH_DRIVER") or "static"
local counter = 0
local agents = tonumber(os.getenv("BENCH_AGENTS") or "1")
local header_name = os.getenv("BENCH_HEADER") or "Authorization"
local body = os.getenv("BENCH_BODY")
local prepared = {}

wrk.method = os.getenv("BENCH_METHOD") or wrk.method
if body ~= nil and body ~= "" then
  wrk.body = body
else
  body = nil
end

function init(args)
  if driver == "replay" then
    for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      local header, body = line:match("^([^\t]*)\t(.*)$")
      prepared[#prepared + 1] = { header = header, body = body }
    end
  end
end

function request()
  counter = counter + 1
  if driver == "agent" then
    local secret = string.format("vigil_ag_bench%026d", ((counter - 1) * 101) % agents)
    return wrk.format(nil, nil, {
      ["Authorization"] = "Bearer " .. secret,
      ["Content-Type"] = "application/json",
    }, body and (body:gsub("%%N%%", tostring(counter))))
  elseif driver == "replay" then
    local item = prepared[counter] or prepared[#prepared]
    if counter >= #prepared then
      wrk.thread:stop()
    end
    return wrk.format(nil, nil, {
      [header_name] = item.header,
      ["Content-Type"] = "application/json",
    }, item.body)
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
