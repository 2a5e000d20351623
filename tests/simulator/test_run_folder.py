"""Run folders: adasim writes only into folders it owns and resumes only the same config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adasim.cli import main
from simulator.config import Config, load_config
from simulator.engine.run_folder import MARKER, config_digest, first_difference, prepare_run_folder
from simulator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config() -> Config:
    return load_config(ROOT / "configs" / "quick.toml")


def _user_files(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"thesis.tex": b"my work", "data/raw.csv": b"1,2,3"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def test_new_and_empty_folders_become_run_folders(tmp_path: Path, config: Config) -> None:
    for folder in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        prepare_run_folder(folder, config)
        marker = json.loads((folder / MARKER).read_text())
        assert marker == {"kind": "run", "name": "quick", "config_sha256": config_digest(config)}


@pytest.mark.parametrize("fresh", [False, True])
def test_a_users_folder_is_refused_and_left_intact(
    tmp_path: Path, config: Config, fresh: bool
) -> None:
    files = _user_files(tmp_path / "mine")
    with pytest.raises(ConfigError, match=r"holds files adasim did not write .*\.adasim-run"):
        prepare_run_folder(tmp_path / "mine", config, fresh=fresh)
    for name, data in files.items():
        assert (tmp_path / "mine" / name).read_bytes() == data
    assert not (tmp_path / "mine" / MARKER).exists()


def test_fresh_removes_only_what_adasim_wrote(tmp_path: Path, config: Config) -> None:
    run = prepare_run_folder(tmp_path / "run", config)
    for name in ("events", "checkpoints/ab", "twin/control/events", "figures"):
        (run / name).mkdir(parents=True)
        (run / name / "x.bin").write_bytes(b"adasim")
    (run / "summary.json").write_text("{}")
    (run / "config.toml").write_text(config.to_toml())
    (run / "my_notes.md").write_text("keep me")
    prepare_run_folder(run, config.with_overrides(["seed=8"]), fresh=True)
    assert sorted(p.name for p in run.iterdir()) == [MARKER, "my_notes.md"]
    assert (run / "my_notes.md").read_text() == "keep me"


@pytest.mark.parametrize("special", ["cwd", "root", "home"])
def test_fresh_refuses_cwd_root_and_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: Config, special: str
) -> None:
    monkeypatch.chdir(tmp_path)
    target = {"cwd": Path("."), "root": Path("/"), "home": Path.home()}[special]
    rule = {"cwd": "the current folder", "root": "the file-system root", "home": "the home folder"}
    with pytest.raises(ConfigError, match=rule[special]):
        prepare_run_folder(target, config, fresh=True)


def test_resume_needs_the_same_config(tmp_path: Path, config: Config) -> None:
    run = prepare_run_folder(tmp_path / "run", config)
    (run / "config.toml").write_text(config.to_toml())
    # Worker count and progress display change no result: a resume may differ in them.
    prepare_run_folder(run, config.with_overrides(["experiment.workers=1", "engine.progress=true"]))
    with pytest.raises(ConfigError) as err:
        prepare_run_folder(run, config.with_overrides(["seed=8"]))
    message = str(err.value)
    assert "seed is 7 there, 8 now" in message
    assert "--fresh" in message
    assert (run / "config.toml").read_text() == config.to_toml()  # untouched


def test_a_folder_written_before_an_option_existed_resumes_at_its_default(
    tmp_path: Path, config: Config
) -> None:
    run = prepare_run_folder(tmp_path / "run", config)
    older = config.to_toml().replace("twin_replicates = 1\n", "")
    assert older != config.to_toml()  # the option is written, and now left out
    (run / "config.toml").write_text(older)
    prepare_run_folder(run, config)  # the option at its default: the same run
    with pytest.raises(ConfigError, match=r"experiment\.twin_replicates is 1 there, 2 now"):
        prepare_run_folder(run, config.with_overrides(["experiment.twin_replicates=2"]))


def test_first_difference_names_nested_and_missing_keys() -> None:
    a = {"world": {"n_users": 10, "items": {"n_artists": 5}}, "seed": 1}
    b = {"world": {"n_users": 10, "items": {"n_artists": 6}}, "seed": 1, "extra": True}
    assert first_difference(a, b) == "extra is '(not set)' there, True now"
    del b["extra"]
    assert first_difference(a, b) == "world.items.n_artists is 5 there, 6 now"
    assert first_difference(a, a) is None


def test_out_that_is_a_file_or_cannot_be_written(tmp_path: Path, config: Config) -> None:
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=r"file\.txt is a file, must be a folder"):
        prepare_run_folder(afile, config)
    with pytest.raises(ConfigError, match=r"cannot be written \("):
        prepare_run_folder(afile / "sub", config)
    assert afile.read_text() == "x"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_read_only_out_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # /proc refuses new folders even to root, unlike a chmod'ed one.
    status = main(["run", str(ROOT / "configs" / "quick.toml"), "--out", "/proc/adasim-run"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("adasim run: error: --out /proc/adasim-run cannot be written (")
    assert "\n" not in err


def test_older_run_folders_without_marker_are_recognised(tmp_path: Path, config: Config) -> None:
    old = tmp_path / "old"
    (old / "events").mkdir(parents=True)
    (old / "config.toml").write_text(config.to_toml())
    prepare_run_folder(old, config)
    assert (old / MARKER).is_file()


def test_a_simulate_folder_is_not_taken_for_a_run(tmp_path: Path, config: Config) -> None:
    prepare_run_folder(tmp_path / "sim", config, fresh=True, kind="simulate")
    (tmp_path / "sim" / "config.toml").write_text(config.to_toml())
    with pytest.raises(ConfigError, match="holds an adasim simulate folder, not a run folder"):
        prepare_run_folder(tmp_path / "sim", config)


def test_cli_fresh_in_a_users_folder_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _user_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path)):
        status = main(["run", str(ROOT / "configs" / "quick.toml"), "--out", out, "--fresh"])
        err = capsys.readouterr().err.strip()
        assert status == 2, err
        assert "\n" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["data", "thesis.tex"]
    assert all((tmp_path / n).read_bytes() == d for n, d in files.items())
