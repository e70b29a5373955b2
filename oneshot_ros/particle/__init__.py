"""Particle reaching (Duan et al. 2017, appendix A): world, policies, training, evaluation."""

# The appendix's three policies (kept here, torch-free, so the CLI can list them cheaply).
VARIANTS = ("plain_lstm", "lstm_attention", "final_state_attention")
