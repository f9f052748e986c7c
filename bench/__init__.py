"""`make bench`: tempen's throughput, latency and footprint on the real services, next to the raw
limits of the same broker and database measured in the same run. See docs/benchmarks.md."""
