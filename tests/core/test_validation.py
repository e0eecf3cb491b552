import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import check_array, check_hermitian, check_positive, check_same_leading


def test_check_array_shapes_and_nan():
    x = check_array(np.ones((2, 3)), "channels", shape=(2, None))
    assert x.shape == (2, 3)
    with pytest.raises(ValueError, match=r"channels: expected shape \(4, \*\), got \(2, 3\)"):
        check_array(np.ones((2, 3)), "channels", shape=(4, None))
    with pytest.raises(ValueError, match="channels: expected 1 dimensions"):
        check_array(np.ones((2, 3)), "channels", ndim=1)
    with pytest.raises(ValueError, match="channels: contains NaN"):
        check_array(np.array([1.0, np.nan]), "channels")
    with pytest.raises(ValueError, match="power: expected a real array"):
        check_array(np.array([1j]), "power", kind="real")
    with pytest.raises(ValueError, match="data: expected (an|a numeric) array"):
        check_array(np.array(["a"]), "data")  # strings are not arrays to JAX
    assert jnp.iscomplexobj(check_array(np.ones(2), "h", kind="complex"))


def test_check_positive_and_hermitian():
    with pytest.raises(ValueError, match="power: expected values > 0"):
        check_positive(-1.0, "power")
    check_positive(0.0, "noise_var", strict=False)
    with pytest.raises(ValueError, match="cov: expected a Hermitian"):
        check_hermitian(np.array([[1.0, 2.0], [0.0, 1.0]]), "cov")
    with pytest.raises(ValueError, match="cov: expected a positive semidefinite"):
        check_hermitian(np.array([[1.0, 0.0], [0.0, -1.0]]), "cov", psd=True)
    with pytest.raises(ValueError, match="cov: expected a square"):
        check_hermitian(np.ones((2, 3)), "cov")
    with pytest.raises(ValueError, match="a/b: the user axes disagree"):
        check_same_leading({"a": np.ones((2, 1)), "b": np.ones((3, 1))}, "user")
