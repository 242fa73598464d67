# lit configuration for llmc: FileCheck tests of dialects, passes and tools.
import os

import lit.formats

config.name = "llmc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llmc_obj_root, "test")
# Inputs used by tests but not tests themselves.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

# FileCheck variables do not leak across CHECK-LABEL blocks.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

# GPU-target compiles run NVRTC: one kernel cache in the build tree keeps them
# fast and out of the user's ~/.cache (lit does not pass HOME through).
config.environment["LLMC_KERNEL_CACHE"] = os.path.join(
    config.llmc_obj_root, "test", "kernel-cache")

# llmc's tools first, then FileCheck, not and count from LLVM 22.
config.environment["PATH"] = os.pathsep.join(
    [config.llmc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])]
)
config.substitutions.append(("%llmc_src_root", config.llmc_src_root))
config.substitutions.append(("%llmc_obj_root", config.llmc_obj_root))
# Tiny checkpoints that scripts/make_tiny_model.py writes at build time
# (target llmc-tiny-models).
config.substitutions.append(
    ("%tiny_models", os.path.join(config.llmc_obj_root, "test", "Inputs", "tiny-models"))
)

# CUDA code generation tests need NVRTC (linked into the tools) and ptxas.
if getattr(config, "llmc_have_cuda", False):
    config.available_features.add("cuda")
    config.substitutions.append(("%ptxas", os.path.join(config.cuda_bin_dir, "ptxas")))

# An NVIDIA driver on this machine (libcuda.so.1 loads): tests of the
# no-driver messages are UNSUPPORTED there, GPU runs are ctest -L gpu.
try:
    import ctypes

    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
if getattr(config, "llmc_have_cuda", False):
    config.substitutions.append(
        ("%cuda_stubs", os.path.join(os.path.dirname(config.cuda_bin_dir), "lib64", "stubs"))
    )
