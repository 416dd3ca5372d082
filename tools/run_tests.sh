#!/usr/bin/env bash
# The test command: notebooks clean and exported, README in sync, lint + house rules, nbdev-test, quick site build,
# pytest (+ browser check).
set -euo pipefail
cd "$(dirname "$0")/.."
export INTERP_QUICK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MODULAR_TELEMETRY_ENABLED=0 PYTHONUNBUFFERED=1
B=.venv/bin
snap() { find nbs interp README.md -type f \( -name '*.ipynb' -o -name '*.py' -o -name '*.md' \) -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; }
t0=$(date +%s)
echo "== 1/6 notebooks are clean (nbdev-clean changes nothing)"
before=$(snap); $B/nbdev-clean; after=$(snap)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "   rewritten: "$3}' || true
  echo "FAIL: notebooks were not clean. nbdev-clean has now cleaned them: review and commit the result."; exit 1; fi
echo "== 2/6 exported modules are in sync (nbdev-export changes nothing) and README matches nbs/index.ipynb"
before=$(snap); $B/nbdev-export; $B/python tools/readme.py; after=$(snap)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") | grep '^>' | awk '{print "   changed: "$3}' || true
  echo "FAIL: interp/ or README.md did not match the notebooks. Run \`.venv/bin/nbdev-export && .venv/bin/python tools/readme.py\` and commit the result."; exit 1; fi
echo "== 3/6 lint (ruff, 120 columns) and the house rules (layout, sizes, Colab cells, API contract)"
$B/ruff check interp tests tools benchmarks
$B/python tools/check_house.py
echo "== 4/6 nbdev-test (every notebook, INTERP_QUICK=1)"
# two workers on two cores: one torch thread each, or their thread pools oversubscribe the CPU
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} $B/nbdev-test --n-workers 2 --timing
echo "== 5/6 quick site build into _build/site-test"
$B/python tools/build_site.py --quick --out _build/site-test
echo "== 6/6 pytest (unit, property, fault-injection and browser checks)"
INTERP_SITE_DIR=_build/site-test $B/python -m pytest -q
echo "Test command finished in $(( $(date +%s) - t0 )) s"
