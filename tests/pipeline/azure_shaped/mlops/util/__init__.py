"""Helpers shared by the steps, imported from the snapshot root as on Azure ML."""
