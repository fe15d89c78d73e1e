import shutil
from pathlib import Path

import pytest

from index import Index
from qa import Settings

from .fakes import HashEmbedder, ScriptedGenerator

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "russia-rejects-european-troops-in-ukraine.txt"


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture
def seed_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def seed_index(tmp_path, seed_corpus, embedder):
    index = Index.open(tmp_path / "data", embedder, create=True)
    index.sync([seed_corpus])
    return index


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env({}, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", min_score=0.05)


@pytest.fixture
def generator():
    return ScriptedGenerator()
