"""Reliability tests of sluice: crashes, disk faults, corruption, sink faults, isolation (docs/reliability.md).

A package, so that its conftest is not imported as the top-level `conftest` module, which the black-box
tests import names from when both directories run in one session."""
