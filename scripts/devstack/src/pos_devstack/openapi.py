"""The OpenAPI documents of both services, as committed under docs/openapi/.

    python -m pos_devstack.openapi          # writes docs/openapi/cart.json, master-data.json

Client generators (tests/tooling/test_generated_client.py uses openapi-python-client), Postman
and schemathesis read these files; a test fails when they differ from what the code serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cart.app import create_app as create_cart
from cart.settings import CartSettings
from master_data.app import create_app as create_master_data
from master_data.settings import MasterDataSettings
from pos_devstack.paths import REPO_ROOT

OPENAPI_DIR = REPO_ROOT / "docs" / "openapi"
# Only to build the apps: the documents depend on no setting but DOCS_ENABLED.
_TOKENS = {"admin_token": "a" * 40, "service_token": "s" * 40, "docs_enabled": True}


def documents() -> dict[str, dict[str, Any]]:
    return {
        "cart": create_cart(CartSettings(**_TOKENS)).openapi(),  # type: ignore[arg-type]
        "master-data": create_master_data(
            MasterDataSettings(**_TOKENS)  # type: ignore[arg-type]
        ).openapi(),
    }


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def path_of(service: str) -> Path:
    return OPENAPI_DIR / f"{service}.json"


def main() -> int:
    OPENAPI_DIR.mkdir(parents=True, exist_ok=True)
    for service, document in documents().items():
        path_of(service).write_text(rendered(document))
        print(f"wrote {path_of(service).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
