.PHONY: demo test install lint

# Install everything into .venv and run Attest on the demo knowledge base.
demo:
	scripts/setup.sh
	.venv/bin/attest demo --serve

# Install everything and run the test suite.
test:
	scripts/test.sh

install:
	scripts/setup.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy attest
