"""Package discovery that pyproject.toml cannot say: the top-level policies/ folder ships as audit/policies.

Everything else (metadata, dependencies, package data) is in pyproject.toml. The policies are kept once, at the top
of the checkout where users and docs name them (``policies/callpro.yaml``); the build maps that folder into the
package, so no symlink is needed (symlinks break Windows checkouts).
"""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace discovery also lists the data-only folders (audit/templates, audit/lab/scenarios) as packages, as
    # setuptools asks; the package-data globs in pyproject.toml say which of their files ship.
    packages=[*find_namespace_packages(include=["audit", "audit.*"], exclude=["*.__pycache__"]), "audit.policies"],
    package_dir={"audit.policies": "policies"},
)
