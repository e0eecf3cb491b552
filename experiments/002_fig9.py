"""Fig. 9 of seed 002: robust joint design with the total power constraint (Method 3, TPC)."""

import _robust_joint

if __name__ == "__main__":
    _robust_joint.run("tpc", "fig9")
