"""The shipped default model: what `ros-demo`, the imitator node, the launch files and
`pip install .` use when no model is named.

models/stage_attention: the paper's Snapshot variant (conditioned on the demo's stage-end frames)
fine-tuned with one attention head supervised to look at the snapshot of the current stage. Chosen
on the validation split (config/tasks/val.txt) and over ROS 2 against models/baseline_snapshot,
the default before it (docs/results.md). It conditions on the demo's stage ends, which every demo
source of this package records (collect, demonstrate, the ROS demo recorder: from the perceived
block poses).
setup.py reads this line as text (no import at build time): keep it a plain string literal.
"""

DEFAULT_MODEL = "models/stage_attention"
