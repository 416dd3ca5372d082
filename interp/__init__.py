"Mechanistic interpretability and activation engineering for any PyTorch model."
__version__ = "0.1.0"

# The main entry points, imported on first use so that `import interp` stays light (no torch, no transformers).
_ENTRY_POINTS = {
    "load_smollm2": "interp.core.models", "load_hf": "interp.core.models", "model_id": "interp.core.models",
    "list_sites": "interp.core.sites", "model_info": "interp.core.sites",
    "ActivationsExtractor": "interp.core.extract",
    "intervene": "interp.core.intervene", "Ablate": "interp.core.intervene", "Patch": "interp.core.intervene",
    "AddVector": "interp.core.intervene", "Replace": "interp.core.intervene",
    "InterpretationMethod": "interp.core.method", "Result": "interp.core.result", "HeadResult": "interp.core.result",
    "registry": "interp.core.method",
    "get_method": "interp.core.method", "registry_table": "interp.core.method",
    "RepresentationTransformer": "interp.repr.represent", "LogitLens": "interp.repr.lens",
    "ActivationBus": "interp.streams.bus", "ActivationStore": "interp.streams.store",
    "seed_everything": "interp.core.runtime",
}

def __getattr__(name):
    if name in _ENTRY_POINTS:
        import importlib
        value = getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interp' has no attribute {name!r}")

def __dir__(): return sorted([*globals(), *_ENTRY_POINTS])
