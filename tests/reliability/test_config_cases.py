"""Adversarial cases: flags, --set values, recipes (YAML files) and --grid."""

from __future__ import annotations

from pathlib import Path

from _reliability import Case, run_cases

C = "pretrain --data {good} --modality image --epochs 1 --no-progress --out {tmp}/r"


def recipe(text: str, name: str = "recipe.yaml"):
    def setup(tmp: Path) -> None:
        (tmp / name).write_text(text)

    return setup


CASES = [
    # flags the command line parser refuses
    Case("epochs-not-a-number", "pretrain --epochs abc", r"--epochs"),
    Case("unknown-flag", "pretrain --epoch 3", r"--epoch"),
    Case("unknown-command", "pretrain2", r"pretrain2"),
    Case("flag-without-value", "pretrain --devices", r"devices"),
    Case("batch-size-not-a-number", "pretrain --batch-size 1e3", r"--batch-size"),
    # flag values refused before anything is written
    Case("epochs-zero", f"{C} --epochs 0", r"train\.epochs"),
    Case("epochs-negative", f"{C} --epochs -1", r"train\.epochs"),
    Case("batch-size-zero", f"{C} --batch-size 0", r"train\.batch_size"),
    Case("batch-size-one", f"{C} --batch-size 1", r"train\.batch_size"),
    Case("devices-zero", f"{C} --devices 0", r"devices"),
    Case("devices-negative", f"{C} --devices -1", r"devices"),
    Case("devices-word", f"{C} --devices abc", r"devices"),
    Case("devices-more-than-cores", f"{C} --devices 999", r"999"),
    Case("strategy-unknown", f"{C} --strategy bogus", r"strategy.*bogus"),
    Case("accelerator-absent", f"{C} --set train.accelerator=tpu", r"accelerator=tpu"),
    Case("accelerator-unknown", f"{C} --set train.accelerator=quantum", r"accelerator"),
    Case("strategy-not-installed", f"{C} --strategy deepspeed", r"deepspeed"),
    Case("seed-negative", f"{C} --seed -1", r"seed"),
    Case("seed-too-large", f"{C} --seed 99999999999", r"seed"),
    Case("method-unknown", f"{C} --method simclrr", r"simclrr.*simclr"),
    Case("encoder-unknown", f"{C} --encoder resnet1", r"resnet1"),
    Case("views-unknown", f"{C} --views bogus", r"bogus"),
    Case("logger-unknown", f"{C} --logger neptune", r"neptune"),
    Case("modality-unknown", f"{C} --modality pictures", r"pictures"),
    # --set
    Case("set-without-equals", f"{C} --set train.lr", r"--set"),
    Case("set-unknown-section", f"{C} --set trian.lr=0.1", r"trian"),
    Case("set-unknown-key", f"{C} --set train.lrr=0.1", r"train\.lrr.*train\.lr"),
    Case("set-lr-word", f"{C} --set train.lr=abc", r"train\.lr"),
    Case("set-lr-negative", f"{C} --set train.lr=-1", r"train\.lr"),
    Case("set-lr-nan", f"{C} --set train.lr=nan", r"train\.lr"),
    Case("set-lr-inf", f"{C} --set train.lr=inf", r"train\.lr"),
    Case("set-weight-decay-negative", f"{C} --set train.weight_decay=-0.1", r"weight_decay"),
    Case("set-momentum-one", f"{C} --set train.momentum=1", r"momentum"),
    Case("set-optimizer-unknown", f"{C} --set train.optimizer=adam2", r"optimizer"),
    Case("set-test-fraction-one", f"{C} --set data.test_fraction=1", r"test_fraction"),
    Case("set-test-fraction-negative", f"{C} --set data.test_fraction=-0.2", r"test_fraction"),
    Case("set-warmup-negative", f"{C} --set train.warmup_epochs=-1", r"warmup"),
    Case("set-precision-unknown", f"{C} --set train.precision=fp7", r"precision"),
    Case("set-eval-k-zero", f"{C} --set eval.k=0", r"eval\.k"),
    Case("set-eval-k-larger-than-data", f"{C} --set eval.k=100000", r"eval\.k.*100000"),
    Case("set-eval-k-word", f"{C} --set eval.k=abc", r"eval\.k"),
    Case("set-every-n-negative", f"{C} --set eval.every_n_epochs=-1", r"every_n_epochs"),
    Case("set-regularizer-unknown", f"{C} --set regularizers.bogus=0.1", r"bogus"),
    Case("set-regularizer-weight-negative", f"{C} --set regularizers.vcreg=-1", r"vcreg|regulari"),
    Case("set-temperature-word", f"{C} --method simclr --set method.temperature=abc", r"temperature"),
    Case("set-temperature-nan", f"{C} --method simclr --set method.temperature=nan", r"temperature"),
    Case("set-temperature-negative", f"{C} --method simclr --set method.temperature=-0.5", r"temperature"),
    Case("set-temperature-zero", f"{C} --method simclr --set method.temperature=0", r"temperature(?!.*learning rate)"),
    Case("set-projector-dim-zero", f"{C} --method simclr --set method.projector_dim=0", r"projector_dim"),
    Case("set-hidden-dim-negative", f"{C} --method simclr --set method.projector_hidden_dim=-8", r"projector_hidden_dim must"),
    Case("set-method-unknown-argument", f"{C} --method simclr --set method.temprature=0.2", r"temprature.*temperature"),
    Case("set-encoder-unknown-argument", f"{C} --set encoder.name=small_cnn --set encoder.widht=8", r"widht"),
    Case("set-encoder-width-zero", f"{C} --set encoder.name=small_cnn --set encoder.width=0", r"width"),
    Case("set-views-unknown-argument", f"{C} --set views.name=simclr --set views.hfilp=0.5", r"hfilp"),
    Case("set-views-probability-above-one", f"{C} --set views.name=simclr --set views.hflip=2", r"hflip"),
    Case("set-byol-momentum-above-one", f"{C} --method byol --set method.momentum=1.5", r"momentum"),
    Case("set-dino-teacher-temp-negative", f"{C} --method dino --set method.teacher_temp=-1", r"teacher_temp"),
    Case("set-mae-mask-ratio-one", f"{C} --method mae --set method.mask_ratio=1.0", r"mask_ratio"),
    Case("set-swav-prototypes-zero", f"{C} --method swav --set method.num_prototypes=0", r"num_prototypes"),
    Case("set-vicreg-weight-negative", f"{C} --method vicreg --set method.sim_weight=-25", r"sim_weight"),
    Case("set-barlow-lambda-nan", f"{C} --method barlow_twins --set method.lambd=nan", r"lambd"),
    Case("set-moco-queue-zero", f"{C} --method moco_v2 --set method.queue_size=0", r"queue_size"),
    # recipes
    Case("recipe-missing", f"{C} --config {{tmp}}/nope.yaml", r"nope\.yaml"),
    Case("recipe-not-yaml", f"{C} --config {{tmp}}/recipe.yaml", r"recipe\.yaml", setup=recipe("method: [simclr\n")),
    Case("recipe-a-list", f"{C} --config {{tmp}}/recipe.yaml", r"recipe\.yaml", setup=recipe("- simclr\n- byol\n")),
    Case("recipe-empty", f"{C} --config {{tmp}}/recipe.yaml", r"recipe\.yaml", setup=recipe("")),
    Case("recipe-unknown-section", f"{C} --config {{tmp}}/recipe.yaml", r"trainer",
         setup=recipe("trainer: {epochs: 3}\n")),
    Case("recipe-bad-value", f"{C} --config {{tmp}}/recipe.yaml", r"train\.lr",
         setup=recipe("train: {lr: fast}\n")),
    Case("recipe-options-without-name", f"{C} --config {{tmp}}/recipe.yaml", r"encoder",
         setup=recipe("encoder: {width: 8}\n")),
    Case("recipe-is-a-folder", f"{C} --config {{tmp}}", r"config|yaml|folder"),
    Case("recipe-binary", f"{C} --config {{tmp}}/good.npz", r"good\.npz"),
    # grids
    Case("grid-without-values", f"{C} --grid train.lr", r"--grid"),
    Case("grid-bad-value", f"{C} --grid train.lr=0.1,abc", r"train\.lr"),
    Case("grid-unknown-key", f"{C} --grid train.lrr=0.1,0.2", r"train\.lrr"),
    Case("grid-with-resume", f"{C} --grid train.lr=0.1,0.2 --resume", r"--resume"),
    Case("select-by-without-grid", f"{C} --select-by rankme", r"--grid"),
    Case("select-by-unknown", f"{C} --grid train.lr=0.1,0.2 --select-by accuracy", r"accuracy"),
]

test_config_case = run_cases(CASES)
