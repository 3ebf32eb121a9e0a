-- wrk script of bench/bench_service.py: POSTs the score requests of $TRIAGE_BENCH_BODIES (one JSON
-- body a line) in turn, with $TRIAGE_BENCH_KEY, and prints the latencies as one JSON line at the end.
local bodies = {}
for line in io.lines(os.getenv("TRIAGE_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local sent = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TRIAGE_BENCH_KEY")

request = function()
  sent = sent + 1
  return wrk.format(nil, "/v1/cases/score", nil, bodies[(sent - 1) % #bodies + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "failed": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "bodies": %d}\n',
    summary.requests, summary.duration / 1e6, e.status + e.timeout + e.connect + e.read + e.write,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, #bodies))
end
