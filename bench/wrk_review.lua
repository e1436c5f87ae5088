-- wrk script: POSTs one AdmissionReview body to /mutate over keep-alive and
-- prints one JSON line of results for the benchmarks in bench/.
-- Body file: $BENCH_BODY. Pacing: $BENCH_DELAY_MS (per connection, after
-- each reply; unset or 0 means as fast as possible). Every 200 reply must
-- hold $BENCH_EXPECT (default "patch" in quotes: the review was mutated);
-- one that does not is counted in "unexpected" and in "errors".
local body_file = os.getenv("BENCH_BODY")
local file = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.path = "/mutate?timeout=10s"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

local expect = os.getenv("BENCH_EXPECT") or '"patch"'

-- Each wrk thread runs its own copy of this script; done() adds them up.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

unexpected = 0
function response(status, headers, body)
  if status == 200 and expect ~= "" and not string.find(body, expect, 1, true) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local wrong = 0
  for _, thread in ipairs(threads) do
    wrong = wrong + (thread:get("unexpected") or 0)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"p999_us": %d, "max_us": %d, "errors": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "unexpected": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout + wrong,
    e.connect, e.read, e.write, e.status, e.timeout, wrong))
end
