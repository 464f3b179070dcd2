"""The recommendation methods: BPR-MF and LightGCN (supervised ranking baselines), SGL, SimGCL,
XSimGCL and NCL (self-supervised terms added to BPR)."""

from selfsup.modalities.interactions.methods import bpr_mf, lightgcn, ncl, sgl, simgcl, xsimgcl  # noqa: F401
