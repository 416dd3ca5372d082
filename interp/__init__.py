"Mechanistic interpretability and activation engineering for any PyTorch model."
__version__ = "0.1.0"
