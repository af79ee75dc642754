"""Register a challenger model in Azure ML only when it beats the registered champion."""
