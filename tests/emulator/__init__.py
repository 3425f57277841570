"""Test doubles for the live path: an HTTPS ARM emulator on loopback and a stand-in ``az`` for credentials."""
from .fakeaz import az_calls, cli_env, write_fake_az
from .writes import Writable
from .server import Emulator, Fault, ResourceGraph, TokenBucket, example_objects, kind_of, type_from_id

__all__ = ["Emulator", "Fault", "ResourceGraph", "TokenBucket", "Writable", "az_calls", "cli_env", "example_objects", "kind_of", "type_from_id",
           "write_fake_az"]
