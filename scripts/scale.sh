#!/usr/bin/env bash
# The scale test of #12 (docs/PERFORMANCE.md, "Scale"): 1,000 clinics and 10 million messages
# generated in a fresh PostgreSQL database, the staff reads measured, then the retention purge
# of the expired million under webhook traffic. Needs PostgreSQL (FRONTDESK_TEST_PG_URL or
# 127.0.0.1:5432 as postgres) and about 6 GB of free disk; takes 15-30 minutes on 2 cores.
# Smaller runs: FRONTDESK_SCALE_TENANTS=100 scripts/scale.sh (see crates/server/benches/scale.rs
# for every setting). The database is dropped at the end unless FRONTDESK_SCALE_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p frontdesk-server --bench scale
