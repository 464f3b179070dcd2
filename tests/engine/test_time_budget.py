"""``--time-budget``: the duration parser, the plan a budget makes, and resume keeping it."""

import json

import lightning as L
import pytest

import selfsup
from selfsup.config import build_config
from selfsup.errors import SelfsupError
from selfsup.validate import parse_duration


@pytest.mark.parametrize("text, seconds", [(300, 300.0), ("300", 300.0), ("90s", 90.0), ("5m", 300.0),
                                           ("5 min", 300.0), ("1.5h", 5400.0), ("2.5 M", 150.0)])
def test_durations_are_read_in_seconds(text, seconds):
    assert parse_duration(text) == seconds
    assert build_config(time_budget=text).train.time_budget == seconds


@pytest.mark.parametrize("text, message", [("5 parsecs", "not a duration"), ("-1m", "not a positive duration"),
                                           ("0", "not a positive duration"), (True, "not a duration"),
                                           ("inf", "not a positive duration")])
def test_bad_durations_are_one_error_naming_the_key(text, message):
    with pytest.raises(SelfsupError, match=f"train.time_budget.*{message}"):
        build_config(time_budget=text)


def test_epochs_and_a_budget_together_are_refused():
    with pytest.raises(SelfsupError, match="--epochs and --time-budget both"):
        build_config(epochs=3, time_budget="1m")


def _budget_run(tiny_run, out, seconds, **extra):
    flags = tiny_run(out, time_budget=seconds, epochs=None, batch_size=128, **extra)
    flags["overrides"] = [*flags["overrides"], "eval.every_n_epochs=0"]
    return flags


@pytest.mark.slow  # an end-to-end run of several seconds
def test_a_budget_ends_training_within_it_and_metrics_say_what_it_bought(tmp_path, tiny_run):
    with pytest.warns(UserWarning, match=r"Time budget 4 s: .* s per step measured, so about \d+ steps"):
        result = selfsup.pretrain(progress=False, **_budget_run(tiny_run, tmp_path / "run", "4s"))
    plan = json.loads((tmp_path / "run" / "metrics.json").read_text())["time_budget"]
    assert plan["seconds"] == 4.0 and plan["trained_seconds"] <= 4.0 * 1.05
    # the whole plan ran, or the budget stopped it a few steps short (steps that slowed after the
    # plan: 216 of 219 once on a clean clone): many epochs of 11 steps
    assert plan["steps"] >= 0.95 * plan["planned_steps"] - 1 and plan["steps"] > 11
    assert plan["epochs"] == pytest.approx(plan["steps"] / 11, abs=0.01)
    assert any("Time budget 4 s" in note for note in result.metrics["notes"])


class _SlowOncePlanned(L.Callback):
    """Once the budget has made its plan, every step takes ``seconds`` longer (a machine that
    turned much slower than the plan measured)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_batch_start(self, trainer, module, *args):
        if module.planned:
            import time

            time.sleep(self.seconds)


@pytest.mark.slow  # an end-to-end run of several seconds
def test_steps_slower_than_planned_stop_at_the_step_boundary_nearest_the_budget(tmp_path, tiny_run):
    # planned on fast steps, then each takes ~1.2 s: the budget stops it within half a step of 4 s
    flags = _budget_run(tiny_run, tmp_path / "run", "4s")
    selfsup.pretrain(progress=False, callbacks=[_SlowOncePlanned(1.2)], **flags)
    plan = json.loads((tmp_path / "run" / "metrics.json").read_text())["time_budget"]
    assert plan["stopped_by"] == "time" and plan["steps"] < plan["planned_steps"]
    assert abs(plan["trained_seconds"] - 4.0) <= 0.6 + 0.3  # half a 1.2 s step, and the step's own work


def test_the_schedule_spans_the_planned_steps(tmp_path, tiny_run):
    from selfsup.engine.optim import warmup_cosine

    seen = {}

    class Spy(L.Callback):
        def on_train_end(self, trainer, module):
            seen.update(total=module.total_steps, warmup=module.warmup_steps, step=trainer.global_step,
                        lr=trainer.optimizers[0].param_groups[0]["lr"], base=module.lr,
                        final=module.final_lr_ratio)

    selfsup.pretrain(progress=False, callbacks=[Spy()], **_budget_run(tiny_run, tmp_path / "run", "3s"))
    plan = json.loads((tmp_path / "run" / "metrics.json").read_text())["time_budget"]
    # warm-up keeps the recipe's share (5 of 60 epochs), and the learning rate followed the plan
    assert seen["warmup"] == round(seen["total"] * 5 / 60)
    scheduled = seen["base"] * warmup_cosine(seen["step"], seen["warmup"], seen["total"], seen["final"])
    assert seen["lr"] == pytest.approx(scheduled, rel=1e-6, abs=1e-12)
    if plan["stopped_by"] != "time":  # the plan ran (a loaded machine may slow the steps after planning)
        assert seen["step"] >= seen["total"] - 1
        assert seen["lr"] < 0.05 * seen["base"]  # the cosine has reached (almost) zero


class _KillAfterThePlan(L.Callback):
    """Ctrl-C on the first step after an epoch end (a checkpoint) that came after the run had its
    plan: a fixed step number is not reached within the budget when the box is loaded."""

    def __init__(self):
        self.saved_with_plan = False

    def on_train_epoch_end(self, trainer, module):
        self.saved_with_plan = self.saved_with_plan or module.planned

    def on_train_batch_end(self, trainer, module, *args):
        if self.saved_with_plan:
            raise KeyboardInterrupt


@pytest.mark.slow  # an end-to-end run of several seconds
def test_resume_keeps_the_plan(tmp_path, tiny_run):
    flags = _budget_run(tiny_run, tmp_path / "run", "6s")
    with pytest.raises(BaseException):
        selfsup.pretrain(progress=False, callbacks=[_KillAfterThePlan()], **flags)
    seen = {}

    class Spy(L.Callback):
        def on_train_start(self, trainer, module):
            seen["planned"] = (module.planned, module.total_steps)

    result = selfsup.pretrain(progress=False, resume=True, callbacks=[Spy()], out=str(tmp_path / "run"))
    assert seen["planned"][0]
    plan = result.metrics["time_budget"]
    assert plan["resumed"] and plan["steps"] == plan["planned_steps"] == seen["planned"][1]
