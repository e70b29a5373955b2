"""The shipped default model: what `ros-demo`, the imitator node, the launch files and
`pip install .` use when no model is named.

models/baseline_snapshot (the paper's Snapshot variant: the demo's stage-end frames) was chosen on
the validation split (config/tasks/val.txt: 103/108 vs bc_all_stages' 88/108) and over ROS 2
(docs/results.md). It conditions on the demo's stage ends, which every demo source of this
package records (collect, demonstrate, the ROS demo recorder: from the perceived block poses).
setup.py reads this line as text (no import at build time): keep it a plain string literal.
"""

DEFAULT_MODEL = "models/baseline_snapshot"
