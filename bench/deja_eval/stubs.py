"""Generates and imports the deja.v1 Python messages and gRPC stubs.

Uses protoc and grpc_python_plugin (Debian's protobuf-compiler and
protobuf-compiler-grpc), as tests/e2e/CMakeLists.txt does, into a directory the
caller owns (usually a temp dir).
"""
import importlib
import os
import shutil
import subprocess
import sys

PROTOS = ("deja/v1/postmortem.proto", "deja/v1/postmortem_service.proto",
          "deja/v1/search_service.proto", "deja/v1/admin_service.proto",
          "deja/v1/stats_service.proto", "deja/v1/recurrence_service.proto")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate(out_dir, proto_root=os.path.join(REPO, "protos")):
    """Writes the modules under out_dir and puts out_dir on sys.path."""
    plugin = shutil.which("grpc_python_plugin")
    protoc = shutil.which("protoc")
    if not plugin or not protoc:
        raise RuntimeError("protoc and grpc_python_plugin are needed (Debian "
                           "packages protobuf-compiler, protobuf-compiler-grpc)")
    protos = [p for p in PROTOS if os.path.exists(os.path.join(proto_root, p))]
    subprocess.run([protoc, "-I" + proto_root, "--python_out=" + out_dir,
                    "--grpc_out=" + out_dir, "--plugin=protoc-gen-grpc=" + plugin]
                   + protos, check=True)
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)


def load(name):
    """deja.v1.<name> (e.g. "search_service_pb2") after generate()."""
    return importlib.import_module("deja.v1." + name)
