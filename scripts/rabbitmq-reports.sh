#!/usr/bin/env bash
# Regenerates reports/rabbitmq/: calibrates against a live RabbitMQ, then runs
# `compare --broker --calibration` on the scenarios of issue 11 (each at its [loadtest]
# time_scale, 30-60 s of real time). Needs a server: scripts/rabbitmq.sh start.
# Real-clock figures depend on the machine and its load: the load is recorded beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
URL="${MQSIM_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
BIN="${MQSIM_BIN:-target/release/mqsim}"
OUT=reports/rabbitmq
mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "uptime (load before): $(uptime)"
} > "$OUT/machine.txt"
"$BIN" calibrate --broker "$URL" --out "$OUT/calibration.toml" 2> "$OUT/calibration.txt"
for s in scenarios/fidelity/mm1-rho05.toml scenarios/mmc.toml scenarios/finite-buffer.toml scenarios/prefetch-cost.toml; do
  name=$(basename "$s" .toml)
  "$BIN" compare "$s" --quiet --broker "$URL" --calibration "$OUT/calibration.toml" \
    --out "$OUT/$name" > "$OUT/$name.txt"
done
echo "uptime (load after): $(uptime)" >> "$OUT/machine.txt"
