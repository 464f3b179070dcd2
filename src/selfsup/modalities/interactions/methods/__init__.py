"""The recommendation methods: BPR-MF and LightGCN (supervised ranking baselines), SGL, SimGCL,
XSimGCL, NCL, DCCF and LightGCL (self-supervised terms added to BPR); two-tower retrieval and two-tower
SSL."""

from selfsup.modalities.interactions.methods import (  # noqa: F401
    bpr_mf,
    dccf,
    lightgcl,
    lightgcn,
    ncl,
    sgl,
    simgcl,
    two_tower,
    two_tower_ssl,
    xsimgcl,
)
