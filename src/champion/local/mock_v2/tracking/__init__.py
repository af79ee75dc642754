"""The MLflow endpoint of `mock_azure_ai_ml()`: MLflow's REST API (tracking, the artifact proxy
and the model registry), served on 127.0.0.1 from the workspace store, so MLflow's own client
reads and writes the rows azure-ai-ml, v1 and `champion.local` see, as Azure ML's MLflow server
does for a workspace. It serves the subset Azure ML's MLflow supports, and refuses what Azure
refuses (`search.py`). Modules: `server.py` (HTTP), `runs.py`, `registry.py`, `search.py`,
`wire.py`. It imports no mlflow."""
