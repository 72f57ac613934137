#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use answers on 127.0.0.1:5432; start it, or install it, when it does not.
# With DATABASE_URL set, that server is the caller's business and nothing is started here.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
  echo "ensure-postgres: DATABASE_URL is set; using that server"
  exit 0
fi

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if command -v pg_isready >/dev/null && answers; then
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null; then
  echo "ensure-postgres: installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -1)
hba="/etc/postgresql/${version}/main/pg_hba.conf"
# Tests connect as postgres over loopback without a password, as on the project's machines.
if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi
echo "ensure-postgres: starting PostgreSQL ${version}"
pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload

for _ in $(seq 1 60); do
  if answers; then
    exit 0
  fi
  sleep 0.5
done
echo "ensure-postgres: PostgreSQL did not answer on 127.0.0.1:5432" >&2
exit 1
