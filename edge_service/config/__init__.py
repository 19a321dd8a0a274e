"""The device configuration: typed sections, a TOML file, and every key also a flag."""

from edge_service.config.example import example_config_path, render_example
from edge_service.config.loader import all_options, as_flat_dict, load_config
from edge_service.config.options import ConfigError, Option
from edge_service.config.sections import Config, default_device_id, default_state_dir

__all__ = ["Config", "ConfigError", "Option", "all_options", "as_flat_dict", "default_device_id",
           "default_state_dir", "example_config_path", "load_config", "render_example"]
