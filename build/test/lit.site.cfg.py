# Written by CMake: where this build keeps llmc's tools. Loads test/lit.cfg.py.
import os

config.llmc_src_root = "/work/main"
config.llmc_obj_root = "/work/main/build"
config.llmc_tools_dir = "/work/main/build/bin"
config.llvm_tools_dir = "/usr/lib/llvm-22/bin"

lit_config.load_config(config, os.path.join(config.llmc_src_root, "test", "lit.cfg.py"))
