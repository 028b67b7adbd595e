"""The README's promises: its two commands and its sample intents are the real ones."""

from __future__ import annotations

from include.compiler.config import PROJECT_ROOT
from include.demo import SAMPLES

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_demo_compiles_the_readme_samples():
    for text in SAMPLES:
        assert f"| {text} |" in README


def test_ci_runs_make_test():
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_every_image_the_readme_shows_is_in_the_repository():
    import re

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images, "the README shows the Rollout page"
    for image in images:
        assert (PROJECT_ROOT / image).is_file(), image
