"""End-to-end behaviour of `selfsup.pretrain`: the run folder, resume, refusals, the guards."""

import json

import lightning as L
import pytest
import torch
from safetensors.torch import load_file

import selfsup
from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.registry import METHODS


def test_run_folder_holds_every_file_and_load_rebuilds_the_encoder(tmp_path, tiny_run):
    result = selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run"))
    run = tmp_path / "run"
    for name in ("config.yaml", "encoder.safetensors", "encoder.json", "metrics.csv", "metrics.json", "report.html"):
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"pretrained", "random_init", "raw_input"} <= metrics.keys()
    assert 0.0 <= metrics["pretrained"]["knn_acc"] <= 1.0
    assert "knn_acc" in (run / "metrics.csv").read_text()
    # the loop's time per epoch and the start-up cost, apart; together within the training time
    assert metrics["seconds_per_epoch"] > 0 and metrics["setup_seconds"] >= 0
    assert metrics["setup_seconds"] + 2 * metrics["seconds_per_epoch"] <= metrics["train_seconds"] + 0.1
    # the final evaluation's time apart from training's, both within the run's, and in the report
    # (each of the three is rounded to 0.1 s, so they may disagree by up to 0.15 s and a float's last bit)
    assert 0 < metrics["eval_seconds"] <= metrics["seconds"] - metrics["train_seconds"] + 0.151
    assert f"evaluation {metrics['eval_seconds']:.1f} s" in (run / "report.html").read_text()

    encoder = selfsup.load(run)
    x = torch.rand(5, 1, 8, 8)
    result.encoder.eval()
    assert torch.allclose(encoder(x), result.encoder(x), atol=1e-6)


def test_existing_run_is_refused_without_resume_or_overwrite(tmp_path, tiny_run):
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    before = (tmp_path / "run" / "encoder.safetensors").read_bytes()
    with pytest.raises(SelfsupError, match="already holds a run.*--resume.*--overwrite"):
        selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", method="byol", epochs=1))
    assert (tmp_path / "run" / "encoder.safetensors").read_bytes() == before
    selfsup.pretrain(progress=False, overwrite=True, **tiny_run(tmp_path / "run", epochs=1))


def test_non_run_folder_is_refused_and_left_alone(tmp_path, tiny_run):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SelfsupError, match="not a selfsup run"):
        selfsup.pretrain(progress=False, **tiny_run(tmp_path / "mine"))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_batch_size_larger_than_data_is_refused_before_writing(tmp_path, tiny_run):
    with pytest.raises(SelfsupError, match="Batch size 5000 is larger than the 1437 training samples"):
        selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", batch_size=5000))
    assert not (tmp_path / "run").exists()


def test_resume_of_a_corrupt_checkpoint_says_it_is_not_one(tmp_path, tiny_run):
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    (tmp_path / "run" / "checkpoints" / "last.ckpt").write_bytes(b"this is not a checkpoint")
    with pytest.raises(SelfsupError, match="last.ckpt is not a readable selfsup checkpoint"):
        selfsup.pretrain(progress=False, resume=True, out=str(tmp_path / "run"))


class _Kill(L.Callback):
    """Simulates a run killed in the middle of its second epoch."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.slow  # an end-to-end run of several seconds
def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path, tiny_run):
    flags = dict(epochs=3, batch_size=128)  # 11 steps per epoch
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "whole", **flags))
    with pytest.raises(BaseException):
        selfsup.pretrain(progress=False, callbacks=[_Kill(at_step=16)], **tiny_run(tmp_path / "killed", **flags))
    assert not (tmp_path / "killed" / "encoder.safetensors").exists()
    selfsup.pretrain(progress=False, resume=True, out=str(tmp_path / "killed"))
    whole = load_file(str(tmp_path / "whole" / "encoder.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "encoder.safetensors"))
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    # the interrupted epoch's log rows were replaced, not duplicated
    steps = [line.split(",")[0] for line in (tmp_path / "killed" / "metrics.csv").read_text().splitlines()[1:]]
    whole_steps = [line.split(",")[0] for line in (tmp_path / "whole" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == whole_steps


class _NaNAtStep3(Method):
    """A method whose loss turns NaN at its fourth step (to exercise the guard)."""

    def __init__(self, encoder, views):
        super().__init__(encoder, views)
        self.calls = 0

    def forward(self, batch):
        self.calls += 1
        loss = self.encoder(self.views(batch, 1)[0]["x"]).pow(2).mean()
        return {"loss": loss * float("nan") if self.calls >= 4 else loss}


def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny_run):
    METHODS.register("nan_test", family="test")(_NaNAtStep3)
    flags = tiny_run(tmp_path / "run", method="nan_test", epochs=3, batch_size=512)  # 2 steps per epoch
    flags["overrides"] = [o for o in flags["overrides"] if not o.startswith("method.")]
    with pytest.raises(SelfsupError, match=r"loss became nan at step 3 \(epoch 1\).*last good checkpoint"):
        selfsup.pretrain(progress=False, **flags)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert not (tmp_path / "run" / "encoder.safetensors").exists()


def test_evaluate_and_embed_a_finished_run(tmp_path, tiny_run):
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    metrics = selfsup.evaluate(tmp_path / "run")
    assert "knn_acc" in metrics["pretrained"] and "knn_acc" in metrics["random_init"]
    emb = selfsup.embed(tmp_path / "run", data="digits", out=tmp_path / "emb.npy")
    assert emb.shape[0] == 1797
    assert (tmp_path / "emb.npy").is_file()


def test_load_says_which_file_is_missing_or_broken(tmp_path, tiny_run):
    with pytest.raises(SelfsupError, match="encoder.json does not exist"):
        selfsup.load(tmp_path)
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    (tmp_path / "run" / "encoder.safetensors").write_bytes(b"garbage")
    with pytest.raises(SelfsupError, match="not a readable safetensors file"):
        selfsup.load(tmp_path / "run")


def test_embed_of_a_labeled_file_keeps_the_file_row_order(tmp_path, tiny_run):
    import numpy as np

    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8)).astype(np.float32)
    y = np.repeat(np.arange(3), 20)
    np.savez(tmp_path / "rows.npz", x=x, y=y)
    emb = selfsup.embed(tmp_path / "run", data=str(tmp_path / "rows.npz"))
    with torch.no_grad():
        expected = selfsup.load(tmp_path / "run")(torch.from_numpy(x)[:, None])
    assert np.allclose(emb, expected.numpy(), atol=1e-5)


def test_resume_refuses_a_changed_training_key(tmp_path, tiny_run):
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))
    with pytest.raises(SelfsupError, match="train.batch_size"):
        selfsup.pretrain(progress=False, resume=True, out=str(tmp_path / "run"), batch_size=8)


def test_config_yaml_of_a_run_reruns_it_to_the_same_weights(tmp_path, tiny_run):
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "first", epochs=1))
    selfsup.pretrain(str(tmp_path / "first" / "config.yaml"), progress=False, out=str(tmp_path / "again"))
    first = load_file(str(tmp_path / "first" / "encoder.safetensors"))
    again = load_file(str(tmp_path / "again" / "encoder.safetensors"))
    assert all(torch.equal(first[k], again[k]) for k in first)


class _RecordEncoder(L.Callback):
    """Records the encoder's parameters after every optimizer step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append({k: v.detach().clone() for k, v in pl_module.method.encoder.named_parameters()})


def test_average_weights_leaves_the_mean_of_every_steps_encoder(tmp_path, tiny_run):
    record = _RecordEncoder()
    flags = tiny_run(tmp_path / "avg", epochs=2, batch_size=512)  # 2 steps per epoch
    flags["overrides"] = [*flags["overrides"], "train.average_weights=true"]
    run = selfsup.pretrain(progress=False, callbacks=[record], **flags)
    assert len(record.steps) == 4
    saved = load_file(str(tmp_path / "avg" / "encoder.safetensors"))
    for name, parameter in run.encoder.named_parameters():
        mean = torch.stack([step[name] for step in record.steps]).mean(0)
        assert torch.allclose(parameter, mean, atol=1e-6), name
        assert torch.allclose(saved[name], mean, atol=1e-6), name
    # the last step's weights are not the average: the test can fail
    assert any(not torch.allclose(record.steps[-1][n], p) for n, p in run.encoder.named_parameters())


@pytest.mark.slow  # an end-to-end run of several seconds
def test_average_weights_survives_a_kill_and_resume(tmp_path, tiny_run):
    flags = dict(epochs=3, batch_size=128, overrides=[*tiny_run(tmp_path)["overrides"], "train.average_weights=true"])
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "whole", **flags))
    with pytest.raises(BaseException):
        selfsup.pretrain(progress=False, callbacks=[_Kill(at_step=16)], **tiny_run(tmp_path / "killed", **flags))
    selfsup.pretrain(progress=False, resume=True, out=str(tmp_path / "killed"))
    whole = load_file(str(tmp_path / "whole" / "encoder.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "encoder.safetensors"))
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


class _CheckpointStamps(L.Callback):
    """The modification time of last.ckpt seen at the start of each epoch and at the end."""

    def __init__(self, path):
        self.path, self.stamps = path, []

    def _stamp(self):
        self.stamps.append(self.path.stat().st_mtime_ns if self.path.exists() else None)

    def on_train_epoch_start(self, trainer, pl_module):
        self._stamp()

    def on_train_end(self, trainer, pl_module):
        self._stamp()


@pytest.mark.parametrize("every_s, changes", [(0, 4), (3600, 2)])
def test_last_checkpoint_waits_between_writes_but_keeps_the_first_and_last_epoch(tmp_path, tiny_run, every_s, changes):
    run = tmp_path / "run"
    stamps = _CheckpointStamps(run / "checkpoints" / "last.ckpt")
    flags = tiny_run(run, epochs=4)
    flags["overrides"] = [*flags["overrides"], f"train.checkpoint_every_s={every_s}"]
    selfsup.pretrain(progress=False, callbacks=[stamps], **flags)
    seen = stamps.stamps  # before epochs 0..3, then at the end
    assert seen[0] is None and seen[1] is not None  # written after the first epoch
    assert len(set(seen[1:])) == changes  # every epoch, or only the first and the last
    assert seen[-1] != seen[-2] or changes == 4
