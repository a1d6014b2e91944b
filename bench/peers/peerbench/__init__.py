"""Pure helpers of the peer benchmark (bench/peers): no peer framework is imported here.

The modules in this package import only the standard library and numpy at import time, so the
harness tests run in ragline's own virtual environment, which has none of the peers installed.
"""
