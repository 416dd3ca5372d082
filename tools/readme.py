"""Write README.md from the home notebook nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed here).

Markdown cells are copied; visible code cells become ```python blocks followed by their text output; `#| hide` cells
are dropped. The test command re-runs this and fails if README.md changes."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render(nb: dict) -> str:
    parts = ["<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->"]
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown": parts.append(src); continue
        if c["cell_type"] != "code" or re.search(r"^\s*#\|\s*(hide|include:\s*false)", src, re.M): continue
        code = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("#|"))
        parts.append(f"```python\n{code}\n```")
        outs = [("".join(o.get("data", {}).get("text/plain", "")) if o["output_type"] != "stream"
                 else "".join(o["text"]))
                for o in c.get("outputs", [])]
        outs = [o.strip() for o in outs if o.strip()]
        if outs: parts.append("```\n" + "\n".join(outs) + "\n```")
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    (ROOT / "README.md").write_text(render(nb))
