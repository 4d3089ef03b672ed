# Berth's two commands: `make run` and `make test`. Both set up what they need and are idempotent.
.PHONY: run test setup lint readme-settings

run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

setup:
	@bash -c 'source scripts/lib.sh && setup'

lint:
	@.venv/bin/ruff check portal registry_proxy runtime_agent tests bench
	@.venv/bin/lint-imports

readme-settings:
	@.venv/bin/python scripts/readme_settings.py
