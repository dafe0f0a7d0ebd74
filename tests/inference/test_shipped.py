"""Shipped models by name."""

import pathlib

from speechbrain_rnncodec.inference.shipped import (
    DEFAULT_MODEL,
    SHIPPED_FOLDER,
    model_source,
    shipped_models,
)


def test_every_shipped_model_is_a_hub_folder_with_weights():
    assert DEFAULT_MODEL.name in shipped_models()
    for name in shipped_models():
        folder = SHIPPED_FOLDER / name
        assert sorted(p.name for p in folder.glob("*.ckpt")) == [
            "decoder.ckpt",
            "encoder.ckpt",
            "quantizer.ckpt",
        ]


def test_a_bare_shipped_name_points_into_the_package():
    assert model_source(None) == str(DEFAULT_MODEL)
    for name in shipped_models():
        assert model_source(name) == str(SHIPPED_FOLDER / name)


def test_a_local_folder_or_repo_id_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL.name).mkdir()  # a local folder of that name wins
    assert model_source(DEFAULT_MODEL.name) == DEFAULT_MODEL.name
    assert model_source("owner/repo") == "owner/repo"
    assert model_source(pathlib.Path("x")) == "x"
