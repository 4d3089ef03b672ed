"""Root test configuration: fixtures are registered here as plugins, one module per area."""

pytest_plugins = ["tests.fixtures.portal"]
pytest_plugins += ["tests.fixtures.services"]
pytest_plugins += ["tests.fixtures.artifacts"]
pytest_plugins += ["tests.fixtures.registry"]
pytest_plugins += ["tests.fixtures.identity"]
