import pytest
from published import run_spec


@pytest.fixture(scope="session")
def ran(tmp_path_factory):
    """The small spec of published.py run once through `dvc repro`; tests work on copies of it."""
    return run_spec(tmp_path_factory.mktemp("ran") / "repo")
