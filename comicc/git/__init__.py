"""Comics kept in git: build any revision of a project and show what changed between two."""
