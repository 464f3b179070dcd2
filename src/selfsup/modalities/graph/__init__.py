"""Graphs on PyTorch Geometric: node-level (the nodes of one graph are the samples) and
graph-level (many graphs) data, graph views, GCN/GAT/GIN/GraphSAGE encoders, and the methods
written for graphs."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():  # PyG's import still calls the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    import torch_geometric  # noqa: F401  - the modality needs it: without it the package is left out

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.graph import methods  # noqa: F401
from selfsup.modalities.graph.data import builtins  # noqa: F401
from selfsup.modalities.graph.encoders import gnn  # noqa: F401
from selfsup.modalities.graph.spec import SPEC
from selfsup.modalities.graph.views import (
    adaptive,  # noqa: F401
    augment,  # noqa: F401
    graphcl,  # noqa: F401
    subgraph,  # noqa: F401
)

__all__ = ["SPEC"]
