"""Presenting plans and results: human text, stable JSON, and Markdown for pull requests."""
