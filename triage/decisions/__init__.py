"""The service's domain: scoring cases, the decisions stored from them, and what follows a decision.

The scorer (:mod:`.scoring`), stored decisions (:mod:`.stored`), analysts' reviews under four
eyes (:mod:`.reviews`), the queue and the teams' load (:mod:`.queue`, :mod:`.capacity`),
re-scoring when news arrives (:mod:`.rescoring`, :mod:`.ingest`), follow-up visits and a case's
timeline, with the API keys, the audit log and the champion models they rely on.  Nothing here
knows HTTP: the API (:mod:`triage.serving`) and the workbench (:mod:`triage.workbench`) call these
functions and pass on the types of :mod:`.types`.
"""
