"""Fig. 10 of seed 002: robust joint design with the per-antenna power constraint (Method 3, PAPC;
Riemannian CG on the complex oblique manifold with the spec's corrections)."""

import _robust_joint

if __name__ == "__main__":
    _robust_joint.run("papc", "fig10")
