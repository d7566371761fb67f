#!/bin/sh
# Formats the whole tree once with Biome (biome.json: the existing style, 2 spaces, single quotes, semicolons,
# trailing commas, lines up to 200 columns) and applies the linter's safe fixes. Run it ONCE, after the parallel
# branches are merged (a reformat before would conflict with every one of them), then commit the result alone:
#   sh scripts/format-all.sh && git commit -am "Format the tree with Biome (no behaviour change)"
# Afterwards `npm run lint` (biome check: the lint rules and the formatting) is clean: wire it into .ci/run. Until then
# `npm run lint:rules` checks the rules alone.
set -eu
cd "$(dirname "$0")/.."
npx biome format --write .
# Safe fixes only; what is left (a few hand fixes) is listed, and does not stop the script.
npx biome lint --write . || echo "biome lint: fix the findings above by hand"
npx tsc --noEmit -p .
node scripts/gen-reference.mjs --check
git diff --stat | tail -1
