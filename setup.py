"""Package list for setuptools: the top-level folder `kernels/` installs as `jaxisac.kernels`.

Everything else (metadata, dependencies) lives in pyproject.toml.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["jaxisac", "jaxisac.*"])
packages += ["jaxisac.kernels"] + [f"jaxisac.kernels.{p}" for p in find_packages("kernels")]

setup(packages=packages, package_dir={"jaxisac": "jaxisac", "jaxisac.kernels": "kernels"})
