"""Root test configuration: fixtures are registered here as plugins, one module per area."""

pytest_plugins = ["tests.fixtures.portal"]
