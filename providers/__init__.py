"""Built-in provider adapters, installed as ``tuneops.providers.<name>`` and registered through the
same ``tuneops.providers`` entry-point group as third-party plugins."""
