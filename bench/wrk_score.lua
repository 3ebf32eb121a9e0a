-- wrk script of bench/bench_service.py: POSTs the bodies of $TRIAGE_BENCH_BODIES (one JSON body a
-- line) in turn to $TRIAGE_BENCH_PATH (default /v1/cases/score), with $TRIAGE_BENCH_KEY when set,
-- and prints the run as one JSON line at the end: counts, and the latency at every 0.05th
-- percentile, so that the runs of two wrk processes (two service instances) can be merged.
local bodies = {}
for line in io.lines(os.getenv("TRIAGE_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local path = os.getenv("TRIAGE_BENCH_PATH") or "/v1/cases/score"
local sent = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("TRIAGE_BENCH_KEY") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TRIAGE_BENCH_KEY")
end

request = function()
  sent = sent + 1
  return wrk.format(nil, path, nil, bodies[(sent - 1) % #bodies + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  local quantiles = {}
  for step = 1, 2000 do
    quantiles[step] = string.format("%.3f", latency:percentile(step / 20) / 1000)
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "refused": %d, "failed": %d, "max_ms": %.3f, "bodies": %d, "quantiles_ms": [%s]}\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.status + e.timeout + e.connect + e.read + e.write, latency.max / 1000, #bodies,
    table.concat(quantiles, ",")))
end
