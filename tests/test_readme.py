"""The README's Python examples import only names that exist (a restructure must not leave them stale)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def readme_imports():
    """Every ``import npae...`` / ``from npae... import ...`` line of the README's Python blocks."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [line for block in blocks for line in block.splitlines()
            if re.match(r"(from npae[\w.]* import |import npae\b)", line)]


def test_the_readme_has_python_examples():
    assert len(readme_imports()) >= 5


@pytest.mark.parametrize("line", readme_imports())
def test_readme_import_works(line):
    exec(line, {})
