"""The artifact index: repositories, artifacts and tags pushed through Berth's registry."""
