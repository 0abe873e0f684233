"""The build's one step beyond pyproject.toml: the data folders of the design card go into the package.

netready/templates, netready/playbooks and netready/inventories are links to the repository's top-level folders
(the source tree reads them through those links, as netready/resources.py does from a wheel). Git lists such a link
as one file, so setuptools-scm cannot name what is inside: here every file git tracks in those folders becomes
package data, and nothing else (an untracked private key lying in an inventory never enters a wheel). Built from an
sdist, which holds only tracked files, every file of the folder is taken.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

LINKED_DATA = ("templates", "playbooks", "inventories")  # netready/<name> -> ../<name>


def tracked(folder: str) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", folder], capture_output=True, check=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError):  # no git, or not a checkout: an unpacked sdist
        out = ""
    if out:
        return [f for f in out.split("\0") if f and os.path.isfile(f)]
    return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(folder) for f in files)


class BuildPy(build_py):
    def find_data_files(self, package: str, src_dir: str) -> list[str]:
        # The links themselves come back from setuptools-scm as files: their content is added below instead.
        files = [f for f in super().find_data_files(package, src_dir) if not os.path.isdir(f)]
        if package == "netready":
            files += [os.path.join(src_dir, f) for name in LINKED_DATA for f in tracked(name)]
        return files


setup(cmdclass={"build_py": BuildPy})
