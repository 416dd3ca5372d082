# The two commands (see README.md). Both set up .venv first; the set-up is idempotent.
.PHONY: site test setup
setup:
	@bash tools/setup.sh
site: setup
	@.venv/bin/python tools/build_site.py --out _site
test: setup
	@bash tools/run_tests.sh
