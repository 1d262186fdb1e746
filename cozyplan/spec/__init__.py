"""Loading and validating the YAML desired-state spec."""
