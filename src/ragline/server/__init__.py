"""The HTTP service (``ragline serve``): REST API under /v1, an OpenAI-compatible endpoint, the web
UI, API keys and access control, metrics, traces and the audit log.

May import everything below it (engine, stages, state, settings); nothing imports it except the CLI.
"""
