"""shopaug presets: list the shipped configurations."""

from __future__ import annotations


def presets() -> None:
    """List presets (named model configurations shipped with shopaug)."""
    import tomllib

    from shopaug.experiment import presets as find

    for name, path in sorted(find().items()):
        spec = tomllib.loads(path.read_text())
        print(f"{name:<12} {spec.get('model', ''):<12} {spec.get('description', '')}")
