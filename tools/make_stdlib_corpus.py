"""Regenerate interp/data/stdlib_docstrings.jsonl: a small English corpus of Python standard-library docstrings.

Source: the docstrings of pure-Python modules of the CPython standard library (the interpreter that runs this
script; the shipped file came from CPython 3.11). Licence: Python Software Foundation License Version 2
(https://docs.python.org/3/license.html), which permits redistribution with the copyright notice kept.
Usage: python tools/make_stdlib_corpus.py
"""
import importlib, inspect, json, platform, sys
from pathlib import Path

MODULES = ["argparse", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent.futures", "configparser",
           "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum",
           "fnmatch", "fractions", "functools", "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html",
           "http.client", "imaplib", "inspect", "ipaddress", "json", "logging", "mailbox", "mimetypes", "netrc",
           "numbers", "optparse", "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "sched", "secrets",
           "selectors", "shlex", "shutil", "smtplib", "socket", "socketserver", "statistics", "string", "subprocess",
           "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback", "typing", "unittest",
           "urllib.parse", "urllib.request", "uuid", "warnings", "weakref", "zipfile"]
MIN_CHARS, MAX_DOCS = 300, 400

def docs():
    for name in MODULES:
        mod = importlib.import_module(name)
        items = [(name, mod)] + sorted((f"{name}.{k}", v) for k, v in vars(mod).items()
                                       if not k.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
                                       and getattr(v, "__module__", None) == mod.__name__)
        for qual, obj in items:
            text = inspect.getdoc(obj) or ""
            if len(text) >= MIN_CHARS: yield dict(source=qual, text=text)

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "interp" / "data" / "stdlib_docstrings.jsonl"
    seen, rows = set(), []
    for d in docs():
        if d["text"] not in seen: seen.add(d["text"]); rows.append(d)
    rows = rows[:MAX_DOCS]
    with open(out, "w") as f:
        for i, d in enumerate(rows):
            f.write(json.dumps(dict(id=i, source=d["source"], text=d["text"],
                                    licence="PSF-2.0",
                                    origin=f"CPython {platform.python_version()} stdlib docstring")) + "\n")
    print(f"{len(rows)} documents, {out.stat().st_size/1e3:.0f} kB -> {out}", file=sys.stderr)
