"""The register stage: send registration files to Encord, exactly once, resumably.

`files` fingerprints the files; `registrar` starts and follows the jobs; `state` is the
SQLite memory that makes every run resumable; `report` folds it into what was registered,
skipped and failed; `reconcile` decides which copies a lost answer left to remove; `run` is
the entry point.
"""
