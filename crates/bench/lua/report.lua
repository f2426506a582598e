-- Appended to every wrk script: one machine-readable line for keyhold-bench (latencies in microseconds).
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "KEYHOLD_BENCH {\"requests\":%d,\"duration_us\":%d,\"errors_connect\":%d,\"errors_read\":%d," ..
      "\"errors_write\":%d,\"errors_status\":%d,\"errors_timeout\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
      "\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
