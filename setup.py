"""Package discovery: everything else is in pyproject.toml.

pyproject.toml cannot say "the packages under providers/ install as tuneops.providers.*" together with
discovery, so the list is found here instead of written by hand: every package under src/ (data folders
such as tuneops/data ship as namespace packages, so setuptools warns about none), and every adapter
package under providers/. tests/test_packaging.py builds the wheel and checks what it holds.
"""

from setuptools import find_namespace_packages, find_packages, setup

PACKAGES = [
    *find_namespace_packages("src", include=["tuneops", "tuneops.*"], exclude=["*.__pycache__"]),
    "tuneops.providers",
    *(f"tuneops.providers.{name}" for name in find_packages("providers")),
]

if __name__ == "__main__":  # as the build runs it; tests/test_packaging.py reads PACKAGES without building
    setup(packages=PACKAGES)
