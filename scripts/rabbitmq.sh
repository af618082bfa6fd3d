#!/usr/bin/env bash
# A local RabbitMQ for trying `mqsim loadtest --broker` and for the RabbitMQ integration tests:
# Debian's rabbitmq-server, listening on 127.0.0.1 only (AMQP 5672, Erlang distribution and
# epmd too), default user guest/guest (which RabbitMQ lets in from localhost only).
#
#   scripts/rabbitmq.sh start    # starts it detached and waits until it answers
#   scripts/rabbitmq.sh status   # says whether it runs, and its version
#   scripts/rabbitmq.sh stop     # stops it
#
# Install it first with `apt-get install -y rabbitmq-server` (as root, or with sudo); CI
# (.ci/run) does that itself when it is missing.
set -euo pipefail

# Loopback only, for every listener the node opens.
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=${RABBITMQ_NODE_PORT:-5672}
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# Short node name on localhost: no dependency on the machine's host name resolving.
export RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-rabbit@localhost}

need() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "rabbitmq-server is not installed: run 'apt-get update && apt-get install -y rabbitmq-server' (as root or with sudo)" >&2
    exit 2
  fi
}

running() {
  rabbitmqctl -q -n "$RABBITMQ_NODENAME" status >/dev/null 2>&1
}

case "${1:-}" in
  start)
    need
    if running; then
      echo "RabbitMQ already running ($RABBITMQ_NODENAME on 127.0.0.1:$RABBITMQ_NODE_PORT)"
      exit 0
    fi
    rabbitmq-server -detached
    # await_startup fails at once while the node is still booting the VM: retry for ~2 min.
    for _ in $(seq 1 60); do
      if rabbitmqctl -q -n "$RABBITMQ_NODENAME" await_startup --timeout 60 >/dev/null 2>&1; then
        echo "RabbitMQ $(rabbitmqctl -q -n "$RABBITMQ_NODENAME" version 2>/dev/null || echo '?') up on 127.0.0.1:$RABBITMQ_NODE_PORT (amqp://guest:guest@127.0.0.1:$RABBITMQ_NODE_PORT/%2f)"
        exit 0
      fi
      sleep 2
    done
    echo "RabbitMQ did not start within 2 minutes; see /var/log/rabbitmq/" >&2
    exit 1
    ;;
  stop)
    need
    if running; then
      rabbitmqctl -q -n "$RABBITMQ_NODENAME" stop
      echo "RabbitMQ stopped"
    else
      echo "RabbitMQ is not running"
    fi
    ;;
  status)
    need
    if running; then
      echo "RabbitMQ $(rabbitmqctl -q -n "$RABBITMQ_NODENAME" version) running on 127.0.0.1:$RABBITMQ_NODE_PORT"
    else
      echo "RabbitMQ is not running (start it with scripts/rabbitmq.sh start)"
      exit 1
    fi
    ;;
  *)
    echo "usage: scripts/rabbitmq.sh start|stop|status" >&2
    exit 2
    ;;
esac
