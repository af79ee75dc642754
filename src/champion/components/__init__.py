"""champion's Azure ML v2 components (placeholder, filled in by the components commit)."""
