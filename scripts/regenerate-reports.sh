#!/usr/bin/env bash
# Regenerates everything under reports/: the simulation report of every shipped scenario,
# the validation matrix, a sizing answer, and a theory/simulation/real-broker comparison.
# Usage: bash scripts/regenerate-reports.sh            (about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mq=target/release/mqsim
for f in scenarios/*.toml; do
  name=$(basename "$f" .toml)
  echo "== run $name"
  "$mq" run "$f" --quiet --out "reports/$name" > /dev/null
done
echo "== per-window theory (PSA, MOL) of the time-varying scenarios"
for f in scenarios/daily-peak.toml scenarios/flash-sale.toml; do
  name=$(basename "$f" .toml)
  "$mq" analyze "$f" --quiet --out "reports/analyze-$name" > /dev/null
done
echo "== validate"
"$mq" validate --quiet --out reports/validation > /dev/null
echo "== size mmc"
"$mq" size scenarios/mmc.toml --group order-workers --target "p99 wait <= 250ms" --prefetch 1,10 --quiet --out reports/sizing-mmc > /dev/null
echo "== size clickstream (a topic's group, per partition count)"
"$mq" size scenarios/clickstream.toml --group analytics --target "p99 wait <= 50ms" --partitions 6,12,24 --replications 4 --quiet --out reports/sizing-clickstream > /dev/null
echo "== compare: the real broker's fidelity scenarios (60 s of real time each)"
for f in scenarios/fidelity/mm1-rho05.toml scenarios/mmc.toml scenarios/fidelity/mmck.toml scenarios/fidelity/tandem.toml scenarios/retry-with-delay.toml scenarios/flaky-consumers.toml scenarios/orders-by-customer.toml; do
  name=$(basename "$f" .toml)
  "$mq" compare "$f" --quiet --duration 60s --out "reports/compare-$name" > /dev/null
done
# reports/rabbitmq/ needs a live RabbitMQ and is regenerated on its own, by hand:
#   scripts/rabbitmq.sh start && scripts/rabbitmq-reports.sh
echo "== index"
cargo run --release --quiet --example reports_index -- reports
echo "reports regenerated"
