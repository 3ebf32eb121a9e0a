"""The HTTP API of the scoring service: routers, their dependencies, problem answers and metrics.

:func:`triage.app.create_app` builds the app and mounts this API on it; ``triage serve`` runs it,
in several worker processes when asked (:mod:`.workers`).
"""
