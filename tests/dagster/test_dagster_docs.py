"""``docs/dagster.md`` runs: its Python snippets, in order, in one namespace, as a reader would."""

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "dagster.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_guide_runs_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The guide sets these for the simulated workspace; monkeypatch puts them back afterwards.
    monkeypatch.setenv("BRAZE_API_KEY", "")
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", "")
    snippets = SNIPPET.findall(GUIDE.read_text())
    namespace: dict[str, object] = {"__name__": "dagster_guide"}

    for number, snippet in enumerate(snippets, 1):
        exec(compile(snippet, f"{GUIDE}, snippet {number}", "exec"), namespace)

    printed = capsys.readouterr().out.splitlines()
    # What the guide says each snippet prints.
    assert "success 1000" in printed
    assert any(line.startswith("False The job started") for line in printed)
    assert "failed 12 rows (at most 10 allowed)." in "\n".join(printed)
    assert "1 False" in printed
    assert "True 5" in printed
    assert len(snippets) >= 8
