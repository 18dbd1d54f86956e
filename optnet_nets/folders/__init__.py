"""Run folders: one writer per folder (:mod:`.lock`), writable checks (:mod:`.writable`) and
what a finished run was trained on, for comparing runs (:mod:`.settings`)."""
