# The two commands of the README's quick start. Each does all of its own set-up.
.PHONY: demo test lint

demo:
	@scripts/setup.sh run
	.venv/bin/bitswarm demo

test:
	@scripts/setup.sh test
	.venv/bin/python -m pytest -q

lint:
	@scripts/setup.sh test
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
