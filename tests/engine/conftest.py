import pytest


@pytest.fixture
def tiny_run():
    """Flag-style arguments for a pretraining run of a few seconds on digits."""

    def make(out, **extra):
        flags = dict(
            method="simclr",
            data="digits",
            epochs=2,
            batch_size=256,
            out=str(out),
            overrides=[
                "encoder.name=small_cnn",
                "encoder.width=8",
                "encoder.depth=2",
                "method.projector_hidden_dim=32",
                "method.projector_dim=16",
                "eval.every_n_epochs=1",
            ],
        )
        flags.update(extra)
        return flags

    return make
