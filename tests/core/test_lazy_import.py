"""``import braze_cdi`` loads its names when they are first used (PEP 562), and the first call
loads only what it needs. What each process imported is checked, never how long it took."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import braze_cdi

#: What ``import braze_cdi`` alone must leave out: the core's modules with their dependencies,
#: and the command line's libraries.
NOT_AT_IMPORT = [
    "httpx",
    "httpcore",
    "pydantic",
    "pydantic.main",
    "pydantic.json_schema",
    "typer",
    "click",
    "rich",
    "braze_cdi._client",
    "braze_cdi._doctor",
    "braze_cdi._models",
    "braze_cdi._schedule",
    "braze_cdi.events",
    "braze_cdi.cli",
]


def _imported(code: str, modules: list[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    check = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.splitlines()[-1]))


def test_import_braze_cdi_loads_none_of_the_core_nor_its_dependencies() -> None:
    assert _imported("import braze_cdi", NOT_AT_IMPORT) == []


def test_a_name_loads_its_own_module_only() -> None:
    modules = ["braze_cdi._models", "braze_cdi._client", "braze_cdi._doctor", "httpx"]

    assert _imported("from braze_cdi import SyncJob", modules) == ["braze_cdi._models"]


def test_the_first_call_on_an_in_process_transport_loads_no_connection_pool() -> None:
    # httpcore (with h2, when installed) is the sync client's network; FakeBraze needs none.
    code = (
        "from braze_cdi import BrazeCDIClient\n"
        "from braze_cdi.testing import FakeBraze\n"
        "fake = FakeBraze()\n"
        "integration = fake.add_integration(duration=0.0)\n"
        "with BrazeCDIClient(fake.api_key, 'US-01', transport=fake) as client:\n"
        "    client.sync_and_wait(integration.integration_id)\n"
    )

    # Older httpx releases (the floor, 0.27) import httpcore with httpx itself: only what httpx
    # alone does not load counts.
    by_httpx = _imported("import httpx", ["httpcore", "h2"])

    assert _imported(code, ["httpcore", "h2", "typer", "rich"]) == by_httpx


def test_every_public_name_is_there_and_goes_by_its_public_path() -> None:
    # In a fresh interpreter: here the names may have been loaded by other tests already.
    code = (
        "import braze_cdi, pickle\n"
        "from braze_cdi import SyncFailed\n"  # loads _errors only
        "assert SyncFailed.__module__ == 'braze_cdi', SyncFailed.__module__\n"
        "names = {}\n"
        "exec('from braze_cdi import *', names)\n"
        "assert sorted(set(names) - {'__builtins__'}) == sorted(braze_cdi.__all__)\n"
        "assert set(braze_cdi.__all__) <= set(dir(braze_cdi))\n"
        "for name in braze_cdi.__all__:\n"
        "    value = getattr(braze_cdi, name)\n"
        "    if isinstance(value, type):\n"
        "        assert value.__module__ == 'braze_cdi', name\n"
        "        assert pickle.loads(pickle.dumps(value)) is value, name\n"
    )

    assert _imported(code, []) == []


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'NotAName'"):
        getattr(braze_cdi, "NotAName")  # noqa: B009


def test_httpx_imported_after_braze_cdi_still_leaves_its_command_line_out() -> None:
    # The finder braze_cdi installs refuses httpx._main once (httpx then keeps its stub `main`),
    # then leaves: an explicit import of it works.
    code = (
        "import braze_cdi, sys\n"
        "import httpx\n"
        "assert 'rich' not in sys.modules and 'httpx._main' not in sys.modules\n"
        "import httpx._main\n"
    )

    assert _imported(code, ["httpx._main"]) == ["httpx._main"]
