"""mlcli: train tf.keras models from declarative YAML configs."""

import time

__version__ = "0.1.0"
STARTED = time.perf_counter()  # when this process started mlcli: wall times count the whole command
