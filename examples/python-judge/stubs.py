"""Python stubs compiled from the repository's proto/ (and the gRPC health/reflection protos in third_party/proto).

Uses grpc_tools.protoc when python3-grpc-tools is installed, else protoc + grpc_python_plugin (Debian's
protobuf-compiler and protobuf-compiler-grpc).
"""
import importlib.util
import os
import shutil
import subprocess
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _proto_files(root):
    found = []
    for folder, _, names in os.walk(root):
        found.extend(os.path.join(folder, n) for n in names if n.endswith(".proto"))
    return sorted(found)


def generate(out_dir, proto_root=os.path.join(REPO_ROOT, "proto"), third_party=os.path.join(REPO_ROOT, "third_party", "proto")):
    os.makedirs(out_dir, exist_ok=True)
    includes = ["-I", proto_root, "-I", third_party]
    outputs = [f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    files = _proto_files(proto_root) + _proto_files(third_party)
    if importlib.util.find_spec("grpc_tools") is not None:
        command = [sys.executable, "-m", "grpc_tools.protoc", *includes, *outputs, *files]
    else:
        plugin = shutil.which("grpc_python_plugin")
        if not shutil.which("protoc") or not plugin:
            raise SystemExit(
                "needs python3-grpc-tools, or protoc and grpc_python_plugin: "
                "apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc"
            )
        command = ["protoc", *includes, *outputs, f"--plugin=protoc-gen-grpc_python={plugin}", *files]
    subprocess.run(command, check=True)
    return out_dir


def load(out_dir):
    """Imports the judge stubs, and the health/reflection messages under names that do not shadow `grpc`."""
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)

    def from_file(name, relative):
        spec = importlib.util.spec_from_file_location(name, os.path.join(out_dir, relative))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    from ragtune.judge.v1 import judge_pb2, judge_pb2_grpc  # noqa: E402

    return {
        "judge_pb2": judge_pb2,
        "judge_pb2_grpc": judge_pb2_grpc,
        "health_pb2": from_file("python_judge_health_pb2", "grpc/health/v1/health_pb2.py"),
        "reflection_pb2": from_file("python_judge_reflection_pb2", "grpc/reflection/v1/reflection_pb2.py"),
        "reflection_v1alpha_pb2": from_file(
            "python_judge_reflection_v1alpha_pb2", "grpc/reflection/v1alpha/reflection_pb2.py"
        ),
    }
