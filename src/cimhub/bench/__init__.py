"""`cimhub bench`: ingest throughput, query latency and memory, against in-run baselines."""
