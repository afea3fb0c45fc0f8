"""Builds torchpool by driving CMake (CMakeLists.txt is the one build description).

`pip install --no-build-isolation .` configures build/cmake against the installed
torch, builds the op library and puts it in the package. Extra CMake arguments come
from TORCHPOOL_CMAKE_ARGS (the test script turns the Catch2 tests on there, so that
it and pip share one build directory).
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeLibrary(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import torch

        package_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_dir = Path(os.environ.get("TORCHPOOL_BUILD_DIR", ROOT / "build" / "cmake"))
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DTORCHPOOL_PYTHON_OUTPUT_DIR={package_dir}",
        ] + shlex.split(os.environ.get("TORCHPOOL_CMAKE_ARGS", ""))
        subprocess.check_call(configure)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "torchpool", "-j", jobs])


setup(ext_modules=[CMakeLibrary("torchpool._library")], cmdclass={"build_ext": CMakeBuild})
