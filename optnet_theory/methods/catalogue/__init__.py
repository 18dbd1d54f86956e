"""The registered methods: the paper's (1)-(6) (:mod:`.paper`) and those that beat
Nesterov's worst case (:mod:`.optimal`)."""
