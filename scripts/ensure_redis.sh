# Sourced by make: export REDIS_URL pointing at a Redis that answers.
# Order: $REDIS_URL, else 127.0.0.1:6379, else a throwaway redis-server on a free port.
_altbot_ping() { "${PYTHON:-.venv/bin/python}" - "$1" <<'PY'
import sys, redis
try:
    sys.exit(0 if redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping() else 1)
except Exception:
    sys.exit(1)
PY
}
if [ -n "${REDIS_URL:-}" ] && _altbot_ping "$REDIS_URL"; then
  :
elif _altbot_ping "redis://127.0.0.1:6379/0"; then
  export REDIS_URL="redis://127.0.0.1:6379/0"
elif command -v redis-server >/dev/null 2>&1; then
  _port=$("${PYTHON:-.venv/bin/python}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  _dir=$(mktemp -d)
  redis-server --port "$_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$_dir" --daemonize yes --pidfile "$_dir/redis.pid" --logfile "$_dir/redis.log"
  for _i in 1 2 3 4 5 6 7 8 9 10; do _altbot_ping "redis://127.0.0.1:$_port/0" && break; sleep 0.3; done
  export REDIS_URL="redis://127.0.0.1:$_port/0"
  echo "started a throwaway redis-server on port $_port (pid file $_dir/redis.pid)"
else
  echo "No Redis answers and redis-server is not installed." >&2
  echo "Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)" >&2
  echo "or set REDIS_URL to a Redis you can use." >&2
  return 1 2>/dev/null || exit 1
fi
