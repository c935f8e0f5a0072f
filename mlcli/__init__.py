"""mlcli: train tf.keras models from declarative YAML configs."""

__version__ = "0.1.0"
