"""``--run-key``: the trigger's record of each integration, kept in a local state file so that
a shell's retry of the same run adopts the sync the first attempt started.

One directory per run key (named by its hash: any text is a key), one JSON file per
integration, written whole and atomically before the trigger is sent. A later run with the
same key resumes with it: the job that trigger started is adopted, and once it is, running the
same key again reports that job again rather than starting another sync.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from .. import BrazeConfigError, SyncHandle, state_directory

__all__ = ["RunRecords"]


class RunRecords:
    """The records of one run key."""

    def __init__(self, run_key: str, directory: Path | None = None) -> None:
        if not run_key.strip():
            raise BrazeConfigError("--run-key must not be empty.")
        digest = hashlib.sha256(run_key.encode()).hexdigest()[:32]
        self.directory = (directory or state_directory()) / "runs" / digest

    def read(self, integration_id: str) -> SyncHandle | None:
        """The record an earlier attempt of this run kept, if any."""
        path = self._path(integration_id)
        try:
            record = SyncHandle.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as error:
            raise BrazeConfigError(
                f"The record of --run-key in {path} cannot be read ({type(error).__name__}).",
                hint="Delete the file to start a new sync for this run key.",
            ) from None
        return record if record.integration_id == integration_id else None

    def write(self, record: SyncHandle) -> None:
        """Keep ``record`` before its trigger is sent: a new file, flushed to disk, then
        renamed over the old one, so a crash leaves the old record or the new, never half."""
        path = self._path(record.integration_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as file:
            file.write(record.model_dump_json().encode())
            file.flush()
            os.fsync(file.fileno())
        os.replace(file.name, path)

    def _path(self, integration_id: str) -> Path:
        # Integration ids are checked before: no "/", "..", or control characters.
        return self.directory / f"{integration_id}.json"
