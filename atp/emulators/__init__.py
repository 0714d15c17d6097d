"""Protocol-faithful emulators of the external systems ATP talks to.

They depend on nothing of `atp` but plain data types: an emulator that reused the adapter's
code (signing, parsing) would prove nothing about the adapter.
"""
