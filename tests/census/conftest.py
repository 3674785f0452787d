import pytest


@pytest.fixture(autouse=True)
def census_media(settings, tmp_path):
    """Uploads go to a fresh directory per test (real files, no storage mocks)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
