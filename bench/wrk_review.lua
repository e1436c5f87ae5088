-- wrk script: POSTs one AdmissionReview body to /mutate over keep-alive and
-- prints one JSON line of results for bench/server_bench.py.
-- Body file: $BENCH_BODY. Pacing: $BENCH_DELAY_MS (per connection, after
-- each reply; unset or 0 means as fast as possible).
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

local statuses = {}
function response(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"p999_us": %d, "max_us": %d, "errors": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout))
end
