#!/usr/bin/env bash
# make demo: what the default profile bakes, the cluster kit, and each node's
# provisioning plan. Booting the nodes joins this once the image builder and
# the nspawn harness land.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=demo
rm -rf "$out/image" "$out/plans"
mkdir -p "$out/plans"
echo "== files baked into a ${PROFILE:-debian-12} image (xroad-image render)"
bin/xroad-image render --profile "${PROFILE:-debian-12}" --out "$out/image" | sed 's/^/   /'
echo "== cluster kit (xroad-image kit)"
bin/xroad-image kit test/demo/cluster.yaml --profile "${PROFILE:-debian-12}" --out "$out/kit" --force | sed 's/^/   /'
for node in "$out"/kit/nodes/*/; do
  name=$(basename "$node")
  bin/xroad-node plan "$node/user-data" --profile "${PROFILE:-debian-12}" > "$out/plans/$name.plan"
  printf '   %-4s %s phases -> %s\n' "$name" "$(grep -c '^== ' "$out/plans/$name.plan")" "$out/plans/$name.plan"
done
echo "Read a plan: less $out/plans/ss2.plan   Seeds: $out/kit/nodes/*/seed.iso"
