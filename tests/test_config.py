import pytest

from selfsup.config import apply_override, build_config, check_names, make_config
from selfsup.errors import SelfsupError


def test_unknown_top_level_key_names_it_and_the_closest_valid_key():
    with pytest.raises(SelfsupError, match=r"Unknown config key 'trian'.*Did you mean 'train'"):
        make_config({"trian": {"epochs": 3}})


def test_unknown_section_key_names_the_dotted_key():
    with pytest.raises(SelfsupError, match=r"'train.epoch'.*Did you mean 'epochs'"):
        make_config({"train": {"epoch": 3}})


def test_wrong_type_names_key_and_value():
    with pytest.raises(SelfsupError, match=r"train.epochs.*'many'"):
        make_config({"train": {"epochs": "many"}})


def test_unknown_method_suggests_closest_names():
    config = make_config({"method": "simclrr"})
    with pytest.raises(SelfsupError, match=r"Unknown method 'simclrr'.*'simclr'"):
        check_names(config)


def test_unknown_method_option_is_named_with_valid_options():
    config = make_config({"method": {"name": "simclr", "temprature": 0.2}})
    with pytest.raises(SelfsupError, match=r"'temprature'.*Did you mean 'temperature'"):
        check_names(config)


def test_unknown_data_name_lists_builtins():
    config = make_config({"data": {"name": "digitz"}})
    with pytest.raises(SelfsupError, match=r"digitz.*digits"):
        check_names(config)


def test_set_override_parses_yaml_values_and_nested_keys():
    raw = {"method": "simclr"}
    apply_override(raw, "method.temperature=0.2")
    apply_override(raw, "train.epochs=7")
    config = make_config(raw)
    assert config.method.kwargs == {"temperature": 0.2}
    assert config.train.epochs == 7


def test_changing_method_by_flag_drops_the_recipe_method_options():
    config = build_config({"method": {"name": "simclr", "temperature": 0.2}}, method="byol")
    assert config.method.name == "byol" and config.method.kwargs == {}


def test_recipe_files_are_valid(tmp_path):
    from pathlib import Path

    from selfsup.config import load_config

    recipes = sorted(Path(__file__).parents[1].joinpath("configs").glob("*.yaml"))
    assert recipes, "configs/ holds no recipes"
    for recipe in recipes:
        check_names(load_config(recipe))
