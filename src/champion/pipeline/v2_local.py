"""Run an Azure ML v2 pipeline file locally (placeholder)."""
