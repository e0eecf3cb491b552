"""The hot loops of jaxisac as pure functions (arrays in, arrays out; no configuration objects).

Installed as ``jaxisac.kernels``. A kernel is a ``state -> state`` step or a whole ``lax`` loop;
the Equinox solver configurations in ``jaxisac`` validate inputs, call these and wrap the results.
"""
