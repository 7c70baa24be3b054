"""Where the tests find the repository, the shared contracts and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The project's shared contracts and samples: beside the repository (as CI lays them out).
SHARED = Path(os.environ.get("VAXREG_SHARED_DIR", REPO.parent / "shared"))
SAMPLES = SHARED / "samples" / "outbox"
SPECS = SHARED / "specs"
PG_URL = os.environ.get("VAXREG_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
