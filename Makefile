# The two commands of the README's quick start. Each does all of its own set-up.
.PHONY: demo test lint

demo:
	@scripts/setup.sh run
	.venv/bin/bitswarm demo

# The suite runs on the mypyc build of the core and the simulator; then their own tests run
# again on the sources, which are what a machine without a C compiler runs.
test:
	@scripts/setup.sh test
	.venv/bin/python -m pytest -q
	BITSWARM_PURE_PYTHON=1 .venv/bin/python -m pytest -q tests/core/swarm tests/sim tests/test_native.py

lint:
	@scripts/setup.sh test
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
